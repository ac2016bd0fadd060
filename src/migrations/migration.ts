/**
 * Migrations: what they are, and how a list of them is checked and identified.
 */
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { TenantbaseError } from "../tools/error.js";

export interface Migration {
  /** Unique; migrations run in the order given. */
  name: string;
  up(db: Kysely<any>): Promise<void> | void;
  down?(db: Kysely<any>): Promise<void> | void;
  /**
   * Identifies the migration's content, to detect an applied migration that
   * was changed afterwards. Defaults to a digest of the SQL (file sources) or
   * of the functions' source text (TypeScript migrations); set it to pin it.
   */
  checksum?: string;
  /**
   * The migration as SQL scripts, when it is nothing more (file sources and
   * generated migrations). Such a migration can run in a worker thread.
   */
  sql?: { up: string[]; down?: string[] };
}

/** A migration with its checksum settled. */
export interface ResolvedMigration extends Migration {
  readonly checksum: string;
}

export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function functionChecksum(migration: Migration): string {
  // Whitespace differs between build tools; the code does not.
  const source = `${migration.up.toString()}\n${migration.down?.toString() ?? ""}`;
  return digest(source.replace(/\s+/g, " "));
}

/** Checks names (present, unique) and settles checksums. */
export function resolveMigrations(migrations: readonly Migration[]): ResolvedMigration[] {
  const seen = new Set<string>();
  return migrations.map((migration, index) => {
    if (!migration || typeof migration.name !== "string" || migration.name.length === 0) {
      throw new TenantbaseError("MIGRATION_INVALID", `Migration #${index + 1} has no name.`);
    }
    if (typeof migration.up !== "function") {
      throw new TenantbaseError("MIGRATION_INVALID", `Migration ${migration.name} has no up().`);
    }
    if (seen.has(migration.name)) {
      throw new TenantbaseError(
        "MIGRATION_INVALID",
        `Migration name ${migration.name} is used twice.`,
      );
    }
    seen.add(migration.name);
    return { ...migration, checksum: migration.checksum ?? functionChecksum(migration) };
  });
}

/** One identifier for the whole list: equal lists, equal ids. */
export function migrationsDigest(migrations: readonly ResolvedMigration[]): string {
  return digest(migrations.map((m) => `${m.name}\0${m.checksum}`).join("\n"));
}

function runScripts(scripts: readonly string[]) {
  return async (db: Kysely<any>) => {
    for (const script of scripts) await sql.raw(script).execute(db);
  };
}

/**
 * A migration made of SQL scripts (each one or more statements), e.g. from
 * files. `up`/`down` may be one script or a list run in order.
 */
export function sqlMigration(
  name: string,
  up: string | string[],
  down?: string | string[],
  checksum?: string,
): ResolvedMigration {
  const ups = typeof up === "string" ? [up] : up;
  const downs =
    down === undefined ? [] : (typeof down === "string" ? [down] : down).filter((s) => s.trim());
  return {
    name,
    up: runScripts(ups),
    ...(downs.length > 0 ? { down: runScripts(downs) } : {}),
    sql: { up: ups, ...(downs.length > 0 ? { down: downs } : {}) },
    checksum: checksum ?? digest(`${ups.join("\n")}\n-- down\n${downs.join("\n")}`),
  };
}

/** Rebuilds a migration from its SQL description (in a worker thread). */
export function migrationFromSql(
  name: string,
  checksum: string,
  scripts: { up: string[]; down?: string[] },
): ResolvedMigration {
  return sqlMigration(name, scripts.up, scripts.down, checksum);
}
