/**
 * `tenantbase migrate`: fleet rollouts from the command line, with a live
 * progress bar, a summary, and a non-zero exit when any tenant failed.
 */
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import type { OutcomeKind } from "../../core/catalog.js";
import type { MigrationRun, RunProgress } from "../../core/rollout.js";
import { type GlobalOptions, openHub, output, table, withStorageOptions } from "../context.js";

interface MigrateOptions extends GlobalOptions {
  tenants?: string;
  concurrency?: string;
  trial?: boolean;
  continueOnError?: boolean;
  order?: string;
  progress?: boolean;
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive whole number`);
  return n;
}

function seconds(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** A progress bar on stderr (a TTY), or nothing (pipes, --json). */
function progressBar(enabled: boolean) {
  if (!enabled) return { update: (_p: RunProgress) => {}, stop: () => {} };
  const bar = new SingleBar({
    format: "{bar} {value}/{total} tenants | {rate}/s | ETA {eta_text} | failed {failed}",
    barsize: 30,
    stream: process.stderr,
    hideCursor: true,
  });
  let started = false;
  return {
    update(p: RunProgress) {
      const payload = {
        rate: Math.round(p.rate),
        eta_text: seconds(p.etaMs),
        failed: p.counts.failed + p.counts.wouldFail,
      };
      if (!started) {
        bar.start(p.total, p.done, payload);
        started = true;
      } else {
        bar.update(p.done, payload);
      }
    },
    stop: () => started && bar.stop(),
  };
}

function summary(run: MigrationRun): string {
  const c = run.counts;
  const rows: Array<[string, number]> = [
    ["migrated", c.migrated],
    ["up to date (skipped)", c.skipped],
    ["failed", c.failed],
    ["not reached", c.notReached],
    ["would migrate", c.wouldMigrate],
    ["would fail", c.wouldFail],
    ["rolled back", c.rolledBack],
    ["nothing to roll back", c.notApplied],
  ];
  const took = run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : 0;
  const outcomes = rows.filter(([, n]) => n > 0);
  return [
    `run ${run.id} (${run.kind}) ${run.status} in ${seconds(took)}, target version ${run.targetVersion}`,
    outcomes.length > 0
      ? table(["OUTCOME", "TENANTS"], outcomes)
      : run.rollbackOf !== null
        ? `no tenant is left to roll back: run ${run.rollbackOf} migrated none, or they were rolled back already`
        : "no tenants to migrate",
  ].join("\n");
}

async function failures(
  hub: Awaited<ReturnType<typeof openHub>>,
  run: MigrationRun,
  kind: OutcomeKind,
): Promise<string> {
  const failed = await hub.migrations.outcomes(run.id, { outcome: kind, limit: 20 });
  if (failed.length === 0) return "";
  const more = (kind === "failed" ? run.counts.failed : run.counts.wouldFail) - failed.length;
  return `\n${table(
    ["TENANT", "ERROR"],
    failed.map((f) => [f.key, f.error ?? ""]),
  )}${more > 0 ? `\n… and ${more} more` : ""}`;
}

async function runAndReport(
  options: MigrateOptions,
  start: (
    hub: Awaited<ReturnType<typeof openHub>>,
    onProgress: (p: RunProgress) => void,
  ) => Promise<MigrationRun>,
): Promise<void> {
  const hub = await openHub(options);
  try {
    const bar = progressBar(
      !options.json && options.progress !== false && process.stderr.isTTY === true,
    );
    let run: MigrationRun;
    try {
      run = await start(hub, (p) => bar.update(p));
    } finally {
      bar.stop();
    }
    const failedKind: OutcomeKind = run.kind === "trial" ? "would-fail" : "failed";
    const details = await failures(hub, run, failedKind);
    output(options, run, () => summary(run) + details);
    if (run.counts.failed > 0 || run.counts.wouldFail > 0) process.exitCode = 1;
  } finally {
    await hub.close();
  }
}

export function registerMigrate(program: Command): void {
  const migrate = withStorageOptions(program.command("migrate"))
    .description("roll pending tenant migrations out to every tenant (or --tenants)")
    .option("--tenants <keys>", "only these tenants, comma-separated, in this order")
    .option(
      "--concurrency <n>",
      "tenants migrated at once (default: 16 per worker thread, two threads per core)",
    )
    .option("--order <order>", "key | created | last-active", undefined)
    .option("--trial", "apply and roll back everywhere: report who would fail, change nothing")
    .option(
      "--continue-on-error",
      "go on after a tenant fails (default: stop at the first failure)",
    )
    .option("--no-progress", "no progress bar")
    .action(async (options: MigrateOptions) => {
      const concurrency = positiveInt(options.concurrency, "--concurrency");
      const tenants = options.tenants
        ?.split(",")
        .map((key) => key.trim())
        .filter(Boolean);
      if (options.order && !["key", "created", "last-active"].includes(options.order)) {
        throw new Error("--order must be key, created or last-active");
      }
      await runAndReport(options, (hub, onProgress) =>
        hub.migrations.run({
          ...(tenants ? { tenants } : {}),
          ...(concurrency ? { concurrency } : {}),
          ...(options.order ? { order: options.order as "key" | "created" | "last-active" } : {}),
          onError: options.continueOnError ? "continue" : "stop",
          trial: options.trial === true,
          onProgress,
        }),
      );
    });

  withStorageOptions(migrate.command("status"))
    .description("tenants per schema version, failed tenants, latest runs")
    .action(async (options: GlobalOptions) => {
      const hub = await openHub(options);
      try {
        const status = await hub.migrations.status();
        output(options, status, () =>
          [
            `target version ${status.targetVersion}; ${status.tenants} tenants, ${status.behind} behind, ${status.failed.length} failed, ${status.pinned} held by a rollback`,
            table(
              ["VERSION", "TENANTS"],
              status.versions.map((v) => [v.version, v.tenants]),
            ),
            ...(status.failed.length
              ? [
                  table(
                    ["FAILED TENANT", "ERROR"],
                    status.failed.map((f) => [f.key, f.error ?? ""]),
                  ),
                ]
              : []),
            table(
              ["RUN", "KIND", "STATUS", "STARTED", "MIGRATED", "FAILED", "ROLLED BACK"],
              status.runs.map((r) => [
                r.id,
                r.kind,
                r.status,
                r.startedAt.toISOString(),
                r.counts.migrated,
                r.counts.failed + r.counts.wouldFail,
                r.counts.rolledBack,
              ]),
            ),
          ].join("\n\n"),
        );
      } finally {
        await hub.close();
      }
    });

  withStorageOptions(migrate.command("rollback <run>"))
    .description("run down() on exactly the tenants that run migrated")
    .option("--concurrency <n>", "tenants rolled back at once")
    .option("--continue-on-error", "go on after a tenant fails")
    .option("--no-progress", "no progress bar")
    .action(async (runArg: string, options: MigrateOptions) => {
      const runId = positiveInt(runArg, "<run>")!;
      const concurrency = positiveInt(options.concurrency, "--concurrency");
      await runAndReport(options, (hub, onProgress) =>
        hub.migrations.rollback(runId, {
          ...(concurrency ? { concurrency } : {}),
          onError: options.continueOnError ? "continue" : "stop",
          onProgress,
        }),
      );
    });
}
