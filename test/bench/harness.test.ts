/**
 * The harness end to end: `bench/run.ts --quick` runs every scenario for
 * real (small sizes) and writes complete result files. Only the shape and
 * the met/unmet logic are checked, never a speed.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const out = mkdtempSync(join(tmpdir(), "tenantbase-bench-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", "run.ts"), ...args],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? Number((error as { code?: number }).code ?? 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

describe("npm run bench -- --quick", () => {
  it("runs every scenario and writes latest.json, latest.md and the charts", async () => {
    const list = await run(["--list"]);
    const scenarios = list.stdout.trim().split("\n");
    expect(scenarios.length).toBeGreaterThanOrEqual(8);

    const result = await run(["--quick", "--out", out]);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"));
    expect(json.mode).toBe("quick");
    expect(json.skipped).toEqual([]);
    expect(json.machine).toMatchObject({
      cpuModel: expect.any(String),
      cores: expect.any(Number),
      node: expect.any(String),
      sqlite: expect.any(String),
      gitCommit: expect.any(String),
    });
    const seen = new Set<string>(json.metrics.map((m: { scenario: string }) => m.scenario));
    // Every scenario reported metrics (http as http-read and http-write, postgres as pg-*).
    const reported: Record<string, string[]> = {
      http: ["http-read", "http-write"],
      postgres: ["pg-http-read", "pg-http-write", "pg-provision", "pg-fleet-migrate"],
    };
    for (const scenario of scenarios) {
      for (const name of reported[scenario] ?? [scenario]) expect(seen.has(name), name).toBe(true);
    }
    for (const metric of json.metrics) {
      for (const field of ["name", "value", "unit", "baseline", "ratio", "target", "met"]) {
        expect(metric, `${metric.name}: ${field}`).toHaveProperty(field);
      }
      expect(Number.isFinite(metric.value), metric.name).toBe(true);
      if (metric.target) {
        // met follows from the measurement and the target, never set by hand.
        const measured = metric.target.on === "ratio" ? metric.ratio : metric.value;
        const expected = !Number.isFinite(measured)
          ? null
          : metric.target.op === ">="
            ? measured >= metric.target.threshold
            : measured <= metric.target.threshold;
        expect(metric.met, metric.name).toBe(expected);
      } else {
        expect(metric.met, metric.name).toBeNull();
      }
    }
    const markdown = readFileSync(join(out, "latest.md"), "utf8");
    for (const name of seen) expect(markdown).toContain(name);
    expect(existsSync(join(out, "latest-provision.svg"))).toBe(true);
  }, 900_000);
});

describe("npm run bench -- --help and bad arguments", () => {
  it("prints its options, and answers a mistake with them and exit code 2, without a stack", async () => {
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const option of ["--quick", "--only", "--tag", "--merge", "--render", "--out", "--list"]) {
      expect(help.stdout).toContain(option);
    }
    const unknownOption = await run(["--fast"]);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("Unknown option '--fast'");
    expect(unknownOption.stderr).toContain("usage: npm run bench");
    expect(unknownOption.stderr).not.toMatch(/^\s+at /m);
    const unknownScenario = await run(["--only", "fleet-migrat", "--out", out]);
    expect(unknownScenario.code).toBe(2);
    expect(unknownScenario.stderr).toContain("unknown scenario fleet-migrat; choose from");
  }, 60_000);
});
