/**
 * Merging a partial run (`--only …`, kept with `--tag`) into the latest full
 * results: its metrics replace those of the same scenarios, and each says
 * which run it came from. Pure (tested in test/bench/merge.test.ts).
 */
import type { BenchResults } from "./report.js";

export function mergeResults(latest: BenchResults, partial: BenchResults): BenchResults {
  const scenarios = new Set(partial.metrics.map((m) => m.scenario));
  const skippedScenarios = new Set(partial.skipped.map((s) => s.scenario));
  const origin = `from the ${partial.mode} run${partial.only ? ` --only ${partial.only}` : ""} of ${partial.startedAt}, commit ${partial.machine.gitCommit}${partial.machine.gitDirty ? " (uncommitted changes)" : ""}`;
  const ranHere = new Set(
    partial.only ? partial.only.split(",").map((name) => name.trim()) : [...skippedScenarios],
  );
  return {
    ...latest,
    metrics: [
      ...latest.metrics.filter((m) => !scenarios.has(m.scenario)),
      ...partial.metrics.map((m) => ({
        ...m,
        notes: m.notes ? `${m.notes} (${origin})` : `(${origin})`,
      })),
    ],
    skipped: [
      ...latest.skipped.filter(
        (s) => !ranHere.has(s.scenario) && !skippedScenarios.has(s.scenario),
      ),
      ...partial.skipped,
    ],
  };
}
