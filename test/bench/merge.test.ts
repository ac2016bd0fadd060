import { describe, expect, it } from "vitest";
import { mergeResults } from "../../bench/lib/merge.js";
import { type BenchResults, metric } from "../../bench/lib/report.js";

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

function results(overrides: Partial<BenchResults>): BenchResults {
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:10:00.000Z",
    mode: "full",
    only: null,
    machine,
    metrics: [],
    skipped: [],
    ...overrides,
  };
}

describe("mergeResults", () => {
  const a = metric({ scenario: "provision", name: "rate", value: 1, unit: "x" });
  const oldPg = metric({ scenario: "pg-provision", name: "rate", value: 2, unit: "x" });
  const newPg = metric({ scenario: "pg-provision", name: "rate", value: 3, unit: "x", notes: "n" });

  it("replaces the partial run's scenarios, keeps the others, and says where they came from", () => {
    const merged = mergeResults(
      results({ metrics: [a, oldPg], skipped: [{ scenario: "postgres", reason: "down" }] }),
      results({
        startedAt: "2026-02-02T00:00:00.000Z",
        only: "postgres",
        machine: { ...machine, gitCommit: "def5678" },
        metrics: [newPg],
      }),
    );
    expect(merged.startedAt).toBe("2026-01-01T00:00:00.000Z");
    expect(merged.metrics.map((m) => m.value)).toEqual([1, 3]);
    expect(merged.metrics[1]!.notes).toBe(
      "n (from the full run --only postgres of 2026-02-02T00:00:00.000Z, commit def5678)",
    );
    expect(merged.metrics[1]!.met).toBeNull();
    expect(merged.skipped).toEqual([]);
  });

  it("keeps a skip the partial run reports", () => {
    const merged = mergeResults(
      results({ metrics: [a, oldPg] }),
      results({ only: "postgres", skipped: [{ scenario: "postgres", reason: "down" }] }),
    );
    expect(merged.metrics).toEqual([a, oldPg]);
    expect(merged.skipped).toEqual([{ scenario: "postgres", reason: "down" }]);
  });
});
