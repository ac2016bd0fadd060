/**
 * Metrics, targets and the three outputs: a table for the terminal, the
 * results JSON and a Markdown report with one SVG bar chart per scenario.
 * Pure functions apart from writeResults (tested in test/bench/report.test.ts).
 */
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a metric must reach: its value or its ratio to the baseline, compared with `op`. */
export interface Target {
  on: "value" | "ratio";
  op: ">=" | "<=";
  threshold: number;
}

export interface Metric {
  scenario: string;
  name: string;
  value: number;
  unit: string;
  /** The baseline's value of the same measure, when there is one. */
  baseline: number | null;
  /** The baseline's name (e.g. "raw better-sqlite3"). */
  baselineName?: string | null;
  /** value / baseline, or the median of per-round ratios when runs were interleaved. */
  ratio: number | null;
  target: Target | null;
  /** Whether the target is met; null without a target. */
  met: boolean | null;
  /** Free-form detail (sizes, rounds, p50 of the same run, ...). */
  notes?: string;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  totalMemoryMiB: number;
  platform: string;
  node: string;
  sqlite: string;
  betterSqlite3: string;
  kysely: string;
  gitCommit: string;
  gitDirty: boolean;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  mode: "full" | "quick";
  only: string | null;
  machine: MachineInfo;
  metrics: Metric[];
  /** Scenarios that did not run, and why. */
  skipped: Array<{ scenario: string; reason: string }>;
}

/** Whether a measurement meets its target. */
export function isMet(target: Target, value: number, ratio: number | null): boolean | null {
  const measured = target.on === "value" ? value : ratio;
  if (measured === null || !Number.isFinite(measured)) return null;
  return target.op === ">=" ? measured >= target.threshold : measured <= target.threshold;
}

/** Builds a metric, computing `met` from the measurement. */
export function metric(
  input: Omit<Metric, "met" | "ratio" | "baseline" | "target"> & {
    baseline?: number | null;
    ratio?: number | null;
    target?: Target | null;
  },
): Metric {
  const baseline = input.baseline ?? null;
  const ratio =
    input.ratio !== undefined
      ? input.ratio
      : baseline !== null && baseline !== 0
        ? input.value / baseline
        : null;
  const target = input.target ?? null;
  return {
    ...input,
    baseline,
    ratio,
    target,
    met: target ? isMet(target, input.value, ratio) : null,
  };
}

export function formatNumber(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export function formatTarget(target: Target | null, unit = ""): string {
  if (!target) return "";
  const op = target.op === ">=" ? "≥" : "≤";
  return target.on === "ratio"
    ? `ratio ${op} ${target.threshold}`
    : `${op} ${formatNumber(target.threshold)}${unit ? ` ${unit}` : ""}`;
}

function metLabel(met: boolean | null): string {
  return met === null ? "" : met ? "yes" : "NO";
}

const HEADERS = ["scenario", "metric", "value", "unit", "baseline", "ratio", "target", "met"];

function rows(metrics: readonly Metric[]): string[][] {
  return metrics.map((m) => [
    m.scenario,
    m.name,
    formatNumber(m.value),
    m.unit,
    m.baseline === null
      ? ""
      : `${formatNumber(m.baseline)}${m.baselineName ? ` (${m.baselineName})` : ""}`,
    m.ratio === null ? "" : m.ratio.toFixed(2),
    formatTarget(m.target, m.unit),
    metLabel(m.met),
  ]);
}

/** A plain-text table with aligned columns (numbers right-aligned). */
export function renderTable(metrics: readonly Metric[]): string {
  const body = rows(metrics);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const right = new Set([2, 5]);
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(HEADERS), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

function escapeMarkdown(text: string): string {
  return text.replaceAll("|", "\\|");
}

export function renderMarkdownTable(metrics: readonly Metric[]): string {
  const body = rows(metrics);
  return [
    `| ${HEADERS.join(" | ")} |`,
    `| ${HEADERS.map((_, i) => (i === 2 || i === 5 ? "---:" : "---")).join(" | ")} |`,
    ...body.map((r) => `| ${r.map(escapeMarkdown).join(" | ")} |`),
  ].join("\n");
}

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

export interface Bar {
  label: string;
  value: number;
  /** "tenantbase" bars are blue, baselines grey. */
  kind: "tenantbase" | "baseline";
}

/**
 * A horizontal bar chart as SVG: one bar per entry, scaled to the largest,
 * with the value written after the bar.
 */
export function renderBarChart(title: string, unit: string, bars: readonly Bar[]): string {
  const width = 640;
  const labelWidth = 230;
  const barHeight = 22;
  const gap = 8;
  const top = 34;
  const height = top + bars.length * (barHeight + gap) + 10;
  const max = Math.max(0, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const room = width - labelWidth - 110;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${width - 200}" y="10" width="10" height="10" fill="#2f6fdf"/>`,
    `<text x="${width - 186}" y="19">Tenantbase</text>`,
    `<rect x="${width - 110}" y="10" width="10" height="10" fill="#9aa3ad"/>`,
    `<text x="${width - 96}" y="19">baseline</text>`,
  ];
  bars.forEach((bar, i) => {
    const y = top + i * (barHeight + gap);
    const value = Number.isFinite(bar.value) ? bar.value : 0;
    const length = max > 0 ? Math.max(1, Math.round((value / max) * room)) : 1;
    const fill = bar.kind === "tenantbase" ? "#2f6fdf" : "#9aa3ad";
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + barHeight / 2 + 4}" text-anchor="end">${escapeXml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${length}" height="${barHeight}" fill="${fill}"/>`,
      `<text x="${labelWidth + length + 6}" y="${y + barHeight / 2 + 4}">${escapeXml(`${formatNumber(bar.value)} ${unit}`)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** The bars of a scenario: each metric that has a baseline, as a pair, grouped by unit. */
export function chartsFor(scenario: string, metrics: readonly Metric[]): string[] {
  const own = metrics.filter((m) => m.scenario === scenario);
  const byUnit = new Map<string, Bar[]>();
  for (const m of own) {
    const bars = byUnit.get(m.unit) ?? [];
    bars.push({ label: m.name, value: m.value, kind: "tenantbase" });
    if (m.baseline !== null) {
      bars.push({
        label: `${m.baselineName ?? "baseline"}`,
        value: m.baseline,
        kind: "baseline",
      });
    }
    byUnit.set(m.unit, bars);
  }
  return [...byUnit.entries()].map(([unit, bars]) =>
    renderBarChart(`${scenario} (${unit})`, unit, bars),
  );
}

/** The file name of a scenario's i-th chart beside latest.md. */
export function chartFileName(scenario: string, index: number): string {
  const safe = scenario.replace(/[^A-Za-z0-9_-]/g, "_");
  return `latest-${safe}${index === 0 ? "" : `-${index + 1}`}.svg`;
}

/** Markdown with the table; each chart is linked as an image file (see chartFileName). */
export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const met = results.metrics.filter((x) => x.met === true).length;
  const targeted = results.metrics.filter((x) => x.met !== null).length;
  const scenarios = [...new Set(results.metrics.map((x) => x.scenario))];
  const lines = [
    "# Tenantbase benchmark results",
    "",
    `Mode: **${results.mode}**${results.only ? ` (only ${results.only})` : ""}, ${results.startedAt} → ${results.finishedAt}.`,
    "",
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.totalMemoryMiB} MiB, ${m.platform}; Node ${m.node}, SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}), Kysely ${m.kysely}; commit ${m.gitCommit}${m.gitDirty ? " (with uncommitted changes)" : ""}.`,
    "",
    `Targets met: **${met} of ${targeted}**.`,
    "",
    renderMarkdownTable(results.metrics),
    "",
  ];
  if (results.skipped.length > 0) {
    lines.push("Skipped:", "");
    for (const s of results.skipped) lines.push(`- \`${s.scenario}\`: ${s.reason}`);
    lines.push("");
  }
  for (const scenario of scenarios) {
    lines.push(`## ${scenario}`, "");
    chartsFor(scenario, results.metrics).forEach((_, i) => {
      lines.push(`![${scenario} chart ${i + 1}](${chartFileName(scenario, i)})`, "");
    });
    for (const x of results.metrics.filter((y) => y.scenario === scenario && y.notes)) {
      lines.push(`- ${x.name}: ${x.notes}`);
    }
    lines.push("");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** Writes a file atomically (temporary file, then rename). */
function writeAtomic(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

/**
 * Writes latest.json, latest.md and its charts (latest-<scenario>.svg), and
 * <tag>.json when tagged; removes charts of an earlier run; returns the paths written.
 */
export function writeResults(dir: string, results: BenchResults, tag?: string): string[] {
  if (
    tag !== undefined &&
    (!/^[A-Za-z0-9._-]{1,64}$/.test(tag) || tag.startsWith(".") || tag === "latest")
  ) {
    throw new Error("--tag must be 1-64 characters of A-Z a-z 0-9 . _ - (not 'latest')");
  }
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const written = [join(dir, "latest.json"), join(dir, "latest.md")];
  writeAtomic(written[0]!, json);
  writeAtomic(written[1]!, renderMarkdown(results));
  const charts = new Set<string>();
  for (const scenario of new Set(results.metrics.map((m) => m.scenario))) {
    chartsFor(scenario, results.metrics).forEach((svg, i) => {
      const path = join(dir, chartFileName(scenario, i));
      writeAtomic(path, `${svg}\n`);
      charts.add(chartFileName(scenario, i));
      written.push(path);
    });
  }
  for (const file of readdirSync(dir)) {
    if (/^latest-.*\.svg$/.test(file) && !charts.has(file)) rmSync(join(dir, file));
  }
  if (tag !== undefined) {
    const tagged = join(dir, `${tag}.json`);
    writeAtomic(tagged, json);
    written.push(tagged);
  }
  return written;
}
