import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BenchResults,
  chartsFor,
  formatNumber,
  formatTarget,
  isMet,
  metric,
  renderBarChart,
  renderMarkdown,
  renderTable,
  writeResults,
} from "../../bench/lib/report.js";

const machine = {
  cpuModel: "Test CPU",
  cores: 2,
  totalMemoryMiB: 1024,
  platform: "linux test",
  node: "v20.0.0",
  sqlite: "3.50.0",
  betterSqlite3: "12.0.0",
  kysely: "0.28.0",
  gitCommit: "abc1234",
  gitDirty: false,
};

function sample(): BenchResults {
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    mode: "quick",
    only: null,
    machine,
    skipped: [{ scenario: "actions", reason: "not there" }],
    metrics: [
      metric({
        scenario: "inproc-read",
        name: "point reads",
        value: 60_000,
        unit: "reads/s",
        baseline: 100_000,
        baselineName: "raw better-sqlite3",
        target: { on: "ratio", op: ">=", threshold: 0.5 },
        notes: "a | note",
      }),
      metric({
        scenario: "cold-wake",
        name: "p99",
        value: 2.5,
        unit: "ms",
        target: { on: "value", op: "<=", threshold: 2 },
      }),
      metric({ scenario: "cold-wake", name: "p50", value: 0.8, unit: "ms" }),
    ],
  };
}

describe("targets", () => {
  it("computes met from the value or the ratio", () => {
    expect(isMet({ on: "value", op: ">=", threshold: 10 }, 10, null)).toBe(true);
    expect(isMet({ on: "value", op: "<=", threshold: 2 }, 2.01, null)).toBe(false);
    expect(isMet({ on: "ratio", op: ">=", threshold: 0.8 }, 1, 0.79)).toBe(false);
    expect(isMet({ on: "ratio", op: "<=", threshold: 1.25 }, 1, 1.2)).toBe(true);
    expect(isMet({ on: "ratio", op: ">=", threshold: 0.8 }, 1, null)).toBeNull();
    expect(isMet({ on: "value", op: ">=", threshold: 1 }, Number.NaN, null)).toBeNull();
  });

  it("metric() derives the ratio from the baseline unless given", () => {
    const [a, b, c] = sample().metrics;
    expect(a!.ratio).toBeCloseTo(0.6, 12);
    expect(a!.met).toBe(true);
    expect(b!.met).toBe(false);
    expect(b!.ratio).toBeNull();
    expect(c!.met).toBeNull();
    const given = metric({
      scenario: "s",
      name: "n",
      value: 1,
      unit: "u",
      baseline: 4,
      ratio: 0.9,
      target: { on: "ratio", op: ">=", threshold: 0.8 },
    });
    expect(given.ratio).toBe(0.9);
    expect(given.met).toBe(true);
    expect(metric({ scenario: "s", name: "n", value: 1, unit: "u", baseline: 0 }).ratio).toBeNull();
  });
});

describe("formatting", () => {
  it("formats numbers by magnitude and targets by kind", () => {
    expect(formatNumber(123_456.7)).toBe("123,457");
    expect(formatNumber(123.4)).toBe("123");
    expect(formatNumber(12.34)).toBe("12.3");
    expect(formatNumber(1.234)).toBe("1.23");
    expect(formatNumber(0.01234)).toBe("0.0123");
    expect(formatNumber(null)).toBe("–");
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe("–");
    expect(formatTarget({ on: "ratio", op: ">=", threshold: 0.8 })).toBe("ratio ≥ 0.8");
    expect(formatTarget({ on: "value", op: "<=", threshold: 2 }, "ms")).toBe("≤ 2.00 ms");
    expect(formatTarget(null)).toBe("");
  });

  it("renders an aligned table with every metric", () => {
    const table = renderTable(sample().metrics);
    const lines = table.split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^scenario\s+metric\s+value/);
    expect(lines[2]).toContain("60,000");
    expect(lines[2]).toContain("100,000 (raw better-sqlite3)");
    expect(lines[2]).toContain("0.60");
    expect(lines[2]).toMatch(/yes$/);
    expect(lines[3]).toMatch(/NO$/);
    // Columns line up: "value" ends where every value ends.
    const end = lines[0]!.indexOf("value") + "value".length;
    expect(lines[2]!.slice(0, lines[2]!.indexOf("60,000") + 6).length).toBeLessThanOrEqual(
      Math.max(end, lines[2]!.indexOf("60,000") + 6),
    );
  });
});

describe("SVG charts", () => {
  it("draws one bar per entry, scaled to the largest, with escaped labels", () => {
    const svg = renderBarChart("a <b> & c", "req/s", [
      { label: "tenantbase", value: 50, kind: "tenantbase" },
      { label: "shared <db>", value: 100, kind: "baseline" },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("a &lt;b&gt; &amp; c");
    expect(svg).toContain("shared &lt;db&gt;");
    const widths = [...svg.matchAll(/<rect x="\d+" y="\d+" width="(\d+)" height="22"/g)].map((m) =>
      Number(m[1]),
    );
    expect(widths).toHaveLength(2);
    expect(widths[1]).toBe(widths[0]! * 2);
    expect(svg).toContain("#2f6fdf");
    expect(svg).toContain("#9aa3ad");
    expect(svg).toContain(">Tenantbase</text>");
  });

  it("copes with zero and non-finite values", () => {
    const svg = renderBarChart("t", "ms", [
      { label: "x", value: 0, kind: "tenantbase" },
      { label: "y", value: Number.NaN, kind: "baseline" },
    ]);
    expect(svg).not.toContain("NaN");
  });

  it("groups a scenario's metrics by unit, baselines beside them", () => {
    const charts = chartsFor("cold-wake", sample().metrics);
    expect(charts).toHaveLength(1);
    expect(charts[0]).toContain("cold-wake (ms)");
    const reads = chartsFor("inproc-read", sample().metrics);
    expect(reads[0]).toContain("raw better-sqlite3");
  });
});

describe("result files", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes latest.json, latest.md and a tagged copy, with no temporary files left", () => {
    dir = mkdtempSync(join(tmpdir(), "bench-report-"));
    const results = sample();
    const written = writeResults(join(dir, "results"), results, "v1");
    expect(written.map((p) => p.slice(dir!.length))).toEqual([
      "/results/latest.json",
      "/results/latest.md",
      "/results/latest-inproc-read.svg",
      "/results/latest-cold-wake.svg",
      "/results/v1.json",
    ]);
    expect(readFileSync(join(dir, "results", "latest-cold-wake.svg"), "utf8")).toMatch(/^<svg/);
    const json = JSON.parse(readFileSync(join(dir, "results", "latest.json"), "utf8"));
    expect(json.metrics).toHaveLength(3);
    expect(json.metrics[0]).toMatchObject({
      name: "point reads",
      value: 60_000,
      unit: "reads/s",
      baseline: 100_000,
      target: { on: "ratio", op: ">=", threshold: 0.5 },
      met: true,
    });
    expect(json.machine.cpuModel).toBe("Test CPU");
    expect(readFileSync(join(dir, "results", "v1.json"), "utf8")).toBe(
      readFileSync(join(dir, "results", "latest.json"), "utf8"),
    );
    const md = readFileSync(join(dir, "results", "latest.md"), "utf8");
    expect(md).toContain("Targets met: **1 of 2**");
    expect(md).toContain("- point reads: a | note");
    expect(md).toContain("![cold-wake chart 1](latest-cold-wake.svg)");
    expect(md).toContain("`actions`: not there");
    expect(readdirSync(join(dir, "results")).some((f) => f.endsWith(".tmp"))).toBe(false);
    // A later run without a scenario removes its stale chart.
    writeResults(join(dir, "results"), { ...results, metrics: results.metrics.slice(1) });
    expect(existsSync(join(dir, "results", "latest-inproc-read.svg"))).toBe(false);
    expect(existsSync(join(dir, "results", "latest-cold-wake.svg"))).toBe(true);
  });

  it("refuses unsafe tags", () => {
    dir = mkdtempSync(join(tmpdir(), "bench-report-"));
    for (const tag of ["../x", "a/b", "", "latest", ".hidden"]) {
      expect(() => writeResults(dir!, sample(), tag)).toThrow(/--tag/);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("renders Markdown with the machine and a section per scenario", () => {
    const md = renderMarkdown(sample());
    expect(md).toContain("Test CPU, 2 cores");
    expect(md).toContain("commit abc1234");
    expect(md).toContain("## inproc-read");
    expect(md).toContain("## cold-wake");
    expect(md).toContain("| inproc-read | point reads | 60,000 |");
  });
});
