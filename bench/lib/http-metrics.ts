/**
 * The metrics of an interleaved HTTP comparison: throughput (target ratio
 * >= 0.8) and p99 (target ratio <= 1.25) against the baseline, and p50,
 * each the median over rounds, with the per-round ratios in the notes.
 */
import type { LoadResult } from "./load-plan.js";
import { type Metric, metric } from "./report.js";
import { median } from "./stats.js";

export interface HttpPair {
  /** Tenantbase's round. */
  a: LoadResult;
  /** The baseline's round. */
  b: LoadResult;
}

export function httpComparisonMetrics(
  scenario: string,
  pairs: readonly HttpPair[],
  options: { baselineName: string; sizes: string; throughputNotes?: string },
): Metric[] {
  const throughputRatios = pairs.map((p) => p.a.requestsPerSecond / p.b.requestsPerSecond);
  const p99Ratios = pairs.map((p) => p.a.latencyP99Ms / Math.max(p.b.latencyP99Ms, 0.001));
  const rounds = (ratios: number[]) => ratios.map((r) => r.toFixed(2)).join(", ");
  const { baselineName } = options;
  return [
    metric({
      scenario,
      name: "throughput",
      value: median(pairs.map((p) => p.a.requestsPerSecond)),
      unit: "req/s",
      baseline: median(pairs.map((p) => p.b.requestsPerSecond)),
      baselineName,
      ratio: median(throughputRatios),
      target: { on: "ratio", op: ">=", threshold: 0.8 },
      notes: `${options.sizes}; per-round ratios ${rounds(throughputRatios)}${options.throughputNotes ? `; ${options.throughputNotes}` : ""}`,
    }),
    metric({
      scenario,
      name: "latency p99",
      value: median(pairs.map((p) => p.a.latencyP99Ms)),
      unit: "ms",
      baseline: median(pairs.map((p) => p.b.latencyP99Ms)),
      baselineName,
      ratio: median(p99Ratios),
      target: { on: "ratio", op: "<=", threshold: 1.25 },
      notes: `per-round ratios ${rounds(p99Ratios)}`,
    }),
    metric({
      scenario,
      name: "latency p50",
      value: median(pairs.map((p) => p.a.latencyP50Ms)),
      unit: "ms",
      baseline: median(pairs.map((p) => p.b.latencyP50Ms)),
      baselineName,
    }),
  ];
}
