/**
 * Baseline: the ceiling for a fleet rollout with a durable commit per tenant
 * on this machine. The same migration and the same flush order as a
 * Tenantbase rollout task (EXCLUSIVE locking, synchronous=OFF, the statements
 * in one transaction; then fdatasync of the WAL, a directory fsync shared by
 * the tenants waiting for it, a checkpoint, fdatasync of the database, the
 * close), in raw better-sqlite3 worker threads (two per core, 16 tenants in
 * flight each) with nothing of Tenantbase's: no catalog, no pool, no Kysely,
 * no messages per tenant.
 */
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { compileForNode } from "../lib/compile.js";
import { copyTemplate } from "../lib/fixtures.js";
import type { RawFleetWork } from "./raw-fleet-worker.js";

const MIGRATIONS_TABLE = "_tenantbase_migrations";
const IN_FLIGHT = 16;

/** `count` tenant files at version 1 (an items table with `rows` rows), made once and copied. */
export function makeRawFleet(
  dir: string,
  count: number,
  rows: number,
  itemsTable: string,
): string[] {
  const tenants = join(dir, "tenants");
  mkdirSync(tenants, { recursive: true });
  const template = join(dir, "template.db");
  const db = new BetterSqlite3(template);
  db.pragma("journal_mode = WAL");
  db.exec(itemsTable);
  db.exec(
    `create table ${MIGRATIONS_TABLE} (seq integer primary key, name text not null unique, checksum text not null, applied_at bigint not null, run_id bigint)`,
  );
  db.transaction(() => {
    db.prepare(`insert into ${MIGRATIONS_TABLE} values (1, '0001_items', '-', 0, null)`).run();
    const insert = db.prepare("insert into items (id, name, value) values (?, ?, ?)");
    for (let id = 1; id <= rows; id++) insert.run(id, `item ${id}`, id);
  })();
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return copyTemplate(template, tenants, count, (i) => `t-${i}.db`);
}

/** The migration's statements plus its record, as one transaction. */
export function upScript(statements: readonly string[]): string {
  return [
    "begin immediate",
    ...statements,
    `insert into ${MIGRATIONS_TABLE} (seq, name, checksum, applied_at, run_id) values (2, '0002', '-', 0, 1)`,
    "commit",
  ].join(";\n");
}

export function downScript(statements: readonly string[]): string {
  return [
    "begin immediate",
    ...statements,
    `delete from ${MIGRATIONS_TABLE} where seq = 2`,
    "commit",
  ].join(";\n");
}

/** The worker compiled to JavaScript (worker threads do not run through tsx); before timing. */
export function compileRawFleetWorker(): Promise<string> {
  return compileForNode(new URL("./raw-fleet-worker.ts", import.meta.url), "raw-fleet-worker");
}

/** Runs `script` on every file (all in one directory) in worker threads running `worker`. */
export async function migrateRaw(
  worker: string,
  files: readonly string[],
  script: string,
): Promise<void> {
  const threads = Math.min(availableParallelism() * 2, files.length);
  const directory = join(files[0]!, "..");
  await Promise.all(
    Array.from({ length: threads }, (_, index) => {
      const work: RawFleetWork = {
        files: files.filter((_, i) => i % threads === index),
        script,
        directory,
        inFlight: IN_FLIGHT,
      };
      return new Promise<void>((resolve, reject) => {
        const thread = new Worker(worker, { workerData: work, execArgv: [] });
        thread.once("message", (message: { done?: number; error?: string }) => {
          void thread.terminate();
          if (message.error !== undefined) reject(new Error(`raw fleet: ${message.error}`));
          else resolve();
        });
        thread.once("error", reject);
      });
    }),
  );
}
