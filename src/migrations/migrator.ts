/**
 * Migrates one database (a tenant's, or the catalog): reads what it has
 * applied from its own table, checks that against the code's list, and runs
 * what is pending inside one transaction, so a database is always either
 * fully at its old version or fully at the new one.
 */
import type { Kysely, Transaction } from "kysely";
import { TenantbaseError } from "../tools/error.js";
import type { ResolvedMigration } from "./migration.js";

export const TENANT_MIGRATIONS_TABLE = "_tenantbase_migrations";

export interface AppliedMigration {
  seq: number;
  name: string;
  checksum: string;
  applied_at: number;
  /** The fleet run that applied it (null when applied on wake or by provisioning). */
  run_id: number | null;
}

export type MigrationPlan =
  | { kind: "current"; version: number }
  | { kind: "pending"; from: number; to: number; pending: ResolvedMigration[] }
  | { kind: "too-new"; version: number; unknown: string }
  | { kind: "drift"; version: number; message: string };

export class MigrationDrift extends TenantbaseError {
  constructor(message: string) {
    super("MIGRATION_DRIFT", message);
  }
}

export async function ensureMigrationsTable(
  db: Kysely<any>,
  table = TENANT_MIGRATIONS_TABLE,
): Promise<void> {
  await db.schema
    .createTable(table)
    .ifNotExists()
    .addColumn("seq", "integer", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("checksum", "text", (c) => c.notNull())
    .addColumn("applied_at", "bigint", (c) => c.notNull())
    .addColumn("run_id", "bigint")
    .execute();
}

/** What the database has applied, oldest first; empty if it has never been migrated. */
export async function readApplied(
  db: Kysely<any>,
  table = TENANT_MIGRATIONS_TABLE,
): Promise<AppliedMigration[]> {
  try {
    const rows = await db
      .selectFrom(table)
      .select(["seq", "name", "checksum", "applied_at", "run_id"])
      .orderBy("seq")
      .execute();
    return rows.map((row) => ({
      seq: Number(row.seq),
      name: String(row.name),
      checksum: String(row.checksum),
      applied_at: Number(row.applied_at),
      run_id: row.run_id == null ? null : Number(row.run_id),
    }));
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw error;
  }
}

function isMissingTable(error: unknown): boolean {
  const message = (error as Error)?.message ?? "";
  // SQLite: "no such table"; PostgreSQL: code 42P01 "relation ... does not exist".
  return /no such table/i.test(message) || (error as { code?: string })?.code === "42P01";
}

export function planMigrations(
  applied: readonly AppliedMigration[],
  migrations: readonly ResolvedMigration[],
): MigrationPlan {
  for (let i = 0; i < applied.length; i++) {
    const done = applied[i]!;
    const known = migrations[i];
    if (!known) {
      if (migrations.some((m) => m.name === done.name)) {
        return { kind: "drift", version: applied.length, message: orderDrift(done.name, i) };
      }
      return { kind: "too-new", version: applied.length, unknown: done.name };
    }
    if (known.name !== done.name) {
      return { kind: "drift", version: applied.length, message: orderDrift(done.name, i) };
    }
    if (known.checksum !== done.checksum && !known.earlierChecksums?.includes(done.checksum)) {
      return {
        kind: "drift",
        version: applied.length,
        message: `Migration ${done.name} was changed after it was applied (checksum ${done.checksum}, code has ${known.checksum}).`,
      };
    }
  }
  if (applied.length === migrations.length) return { kind: "current", version: applied.length };
  return {
    kind: "pending",
    from: applied.length,
    to: migrations.length,
    pending: migrations.slice(applied.length),
  };
}

function orderDrift(name: string, index: number): string {
  return `Applied migration #${index + 1} ${name} is missing from the code's migrations or no longer at that position.`;
}

/**
 * Runs pending migrations inside an open transaction and records them.
 * The caller commits, or rolls back on error.
 */
export async function applyMigrations(
  trx: Transaction<any>,
  pending: readonly ResolvedMigration[],
  fromVersion: number,
  table = TENANT_MIGRATIONS_TABLE,
  runId: number | null = null,
): Promise<void> {
  let seq = fromVersion;
  for (const migration of pending) {
    await migration.up(trx);
    seq += 1;
    await trx
      .insertInto(table)
      .values({
        seq,
        name: migration.name,
        checksum: migration.checksum,
        applied_at: Date.now(),
        run_id: runId,
      })
      .execute();
  }
}

/** Runs `down` of the last applied migrations, newest first, back to `toVersion`. */
export async function revertMigrations(
  trx: Transaction<any>,
  migrations: readonly ResolvedMigration[],
  fromVersion: number,
  toVersion: number,
  table = TENANT_MIGRATIONS_TABLE,
): Promise<void> {
  for (let seq = fromVersion; seq > toVersion; seq--) {
    const migration = migrations[seq - 1];
    if (!migration) throw new MigrationDrift(`Migration #${seq} is not in the code's migrations.`);
    if (!migration.down) {
      throw new TenantbaseError(
        "MIGRATION_INVALID",
        `Migration ${migration.name} has no down() to roll back with.`,
      );
    }
    await migration.down(trx);
    await trx.deleteFrom(table).where("seq", "=", seq).execute();
  }
}

/** One ordered list of migrations recorded in its own table of each database. */
export interface MigrationTrack {
  readonly table: string;
  readonly migrations: readonly ResolvedMigration[];
}

export interface MigrateOptions {
  /**
   * Called first inside the migration transaction, to take a lock other
   * processes migrating the same database wait for (e.g. a PostgreSQL
   * advisory lock for the catalog; tenant transactions lock on their own).
   */
  lock?: (trx: Transaction<any>) => Promise<void>;
}

export interface MigrationOutcome {
  /** Total applied over all tracks, before and after. */
  from: number;
  to: number;
}

/**
 * Brings a database to the latest version of every track in one transaction.
 * Throws on drift, a too-new database, or a failing migration (after rolling
 * everything back, so the database stays at its old version).
 */
export async function migrateTracks(
  db: Kysely<any>,
  tracks: readonly MigrationTrack[],
  options: MigrateOptions = {},
): Promise<MigrationOutcome> {
  let from = 0;
  let pending = false;
  for (const track of tracks) {
    const plan = planMigrations(await readApplied(db, track.table), track.migrations);
    if (plan.kind !== "current" && plan.kind !== "pending") throw planError(plan);
    from += plan.kind === "pending" ? plan.from : plan.version;
    pending ||= plan.kind === "pending";
  }
  if (!pending) return { from, to: from };
  return db.transaction().execute(async (trx) => {
    await options.lock?.(trx);
    // Re-read under the write lock: another process may have migrated meanwhile.
    // (Tables are created first: on PostgreSQL a failed read would abort the transaction.)
    let before = 0;
    let after = 0;
    for (const track of tracks) {
      await ensureMigrationsTable(trx, track.table);
      const plan = planMigrations(await readApplied(trx, track.table), track.migrations);
      if (plan.kind === "pending") {
        await applyMigrations(trx, plan.pending, plan.from, track.table);
        before += plan.from;
        after += plan.to;
      } else if (plan.kind === "current") {
        before += plan.version;
        after += plan.version;
      } else {
        throw planError(plan);
      }
    }
    return { from: before, to: after };
  });
}

/** `migrateTracks` for a single list. */
export async function migrateToLatest(
  db: Kysely<any>,
  migrations: readonly ResolvedMigration[],
  table = TENANT_MIGRATIONS_TABLE,
  options: MigrateOptions = {},
): Promise<MigrationOutcome> {
  return migrateTracks(db, [{ table, migrations }], options);
}

export function planError(plan: MigrationPlan): TenantbaseError {
  if (plan.kind === "drift") return new MigrationDrift(plan.message);
  if (plan.kind === "too-new") {
    return new TenantbaseError(
      "TENANT_SCHEMA_TOO_NEW",
      `The database has migration ${plan.unknown} applied, which this code does not know; it will not be opened by older code.`,
      { applied: plan.unknown },
    );
  }
  return new TenantbaseError("MIGRATION_INVALID", "Unexpected migration plan.");
}
