/**
 * `tenantbase copy --data <sqlite dir> --to <postgres url>`: moves a
 * deployment from SQLite to PostgreSQL, every tenant verified row for row,
 * with a progress bar, a summary, and a non-zero exit when any tenant failed
 * or differs. `--verify` compares only.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { SingleBar } from "cli-progress";
import type { Command } from "commander";
import { copyDeployment, type DeploymentCopyReport } from "../../collections/copy.js";
import type { CopyProgress } from "../../core/copy.js";
import { type GlobalOptions, openHub, output, table } from "../context.js";

interface CopyOptions {
  data: string;
  to?: string;
  app?: string;
  tenants?: string;
  concurrency?: string;
  verify?: boolean;
  migrate?: boolean;
  json?: boolean;
  progress?: boolean;
}

function progressBar(enabled: boolean) {
  if (!enabled) return { update: (_p: CopyProgress) => {}, stop: () => {} };
  const bar = new SingleBar({
    format: "{bar} {value}/{total} tenants | failed {failed}",
    barsize: 30,
    stream: process.stderr,
    hideCursor: true,
  });
  let started = false;
  return {
    update(p: CopyProgress) {
      if (!started) {
        bar.start(p.total, p.done, { failed: p.failed });
        started = true;
      } else {
        bar.update(p.done, { failed: p.failed });
      }
    },
    stop: () => started && bar.stop(),
  };
}

function clip(text: string, max = 160): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function summary(report: DeploymentCopyReport, verifyOnly: boolean): string {
  const counts = Object.entries(report.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(", ");
  const lines = [
    `${verifyOnly ? "verified" : "copied"} ${report.tenants.length} tenants${counts ? `: ${counts}` : ""}`,
  ];
  if (report.sourceRun) {
    lines.push(
      `source migrated first (run ${report.sourceRun.id}): ${report.sourceRun.migrated} migrated, ${report.sourceRun.failed} failed`,
    );
  }
  if (report.collections.outcome !== "none") {
    lines.push(
      `collections: ${report.collections.collections} definitions, ${report.collections.changes} changes (${report.collections.outcome})`,
    );
  }
  const kept = report.settings.filter((s) => s.outcome === "kept");
  if (report.settings.length > 0) {
    lines.push(
      `settings: ${report.settings.map((s) => `${s.name} ${s.outcome}`).join(", ")}${kept.length ? " (the target's differ and were kept)" : ""}`,
    );
  }
  if (report.tenants.length > 0) {
    lines.push(
      table(
        ["TENANT", "TABLES", "ROWS", "STATUS", "DETAIL"],
        report.tenants.map((t) => [t.key, t.tables, t.rows, t.status, clip(t.error ?? "")]),
      ),
    );
  }
  return lines.join("\n");
}

export function registerCopy(program: Command): void {
  program
    .command("copy")
    .description(
      "copy every tenant of a SQLite data directory into a PostgreSQL database, verified row for row",
    )
    .option(
      "--data <dir>",
      "the SQLite data directory to copy from (env TENANTBASE_DATA)",
      process.env.TENANTBASE_DATA || "./data",
    )
    .option(
      "--to <url>",
      "the postgres://… database to copy into (env TENANTBASE_DATABASE_URL)",
      process.env.TENANTBASE_DATABASE_URL,
    )
    .option("--app <file>", "tenant definition module (.ts or .js): the same for both sides")
    .option("--tenants <keys>", "only these tenants, comma-separated")
    .option("--concurrency <n>", "tenants copied at once", "4")
    .option(
      "--migrate",
      "migrate the source's tenants first (default: tenants behind on migrations fail)",
    )
    .option("--verify", "compare only: copy nothing, report equal / differs / missing")
    .option("--json", "machine-readable output")
    .option("--no-progress", "no progress bar")
    .action(async (options: CopyOptions) => {
      if (!options.to) throw new Error("--to <postgres url> is required");
      if (!/^postgres(ql)?:\/\//.test(options.to))
        throw new Error("--to must be a postgres:// URL");
      const dir = resolve(options.data);
      if (!existsSync(join(dir, "catalog.db"))) {
        throw new Error(`${dir} is not a Tenantbase data directory (no catalog.db)`);
      }
      const concurrency = Number(options.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new Error("--concurrency must be a positive whole number");
      }
      const tenants = options.tenants
        ?.split(",")
        .map((key) => key.trim())
        .filter(Boolean);
      const common: GlobalOptions = options.app ? { app: options.app } : {};
      const source = await openHub({ ...common, data: dir });
      try {
        const target = await openHub({ ...common, databaseUrl: options.to });
        try {
          const bar = progressBar(
            !options.json && options.progress !== false && process.stderr.isTTY === true,
          );
          let report: DeploymentCopyReport;
          try {
            report = await copyDeployment(source, target, {
              ...(tenants ? { tenants } : {}),
              concurrency,
              verifyOnly: options.verify === true,
              migrateSource: options.migrate === true,
              onProgress: (p) => bar.update(p),
            });
          } finally {
            bar.stop();
          }
          output(options, report, () => summary(report, options.verify === true));
          if (!report.ok) process.exitCode = 1;
        } finally {
          await target.close();
        }
      } finally {
        await source.close();
      }
    });
}
