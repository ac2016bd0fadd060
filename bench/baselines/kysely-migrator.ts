/**
 * Baseline: the usual hand-made fleet migration, a sequential loop that opens
 * each tenant's SQLite file and runs Kysely's own `Migrator` (with an inline
 * provider, as FileMigrationProvider would load them) on it. WAL and
 * synchronous=NORMAL, as a competent user configures SQLite.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  SqliteDialect,
  sql,
} from "kysely";
import { copyTemplate } from "../lib/fixtures.js";

const V1: Migration = {
  async up(db) {
    await sql`create table items (id integer primary key, name text not null, value integer not null)`.execute(
      db,
    );
  },
  async down(db) {
    await sql`drop table items`.execute(db);
  },
};

const V2: Migration = {
  async up(db) {
    await sql`alter table items add column note text`.execute(db);
    await sql`create index items_note on items (note)`.execute(db);
  },
  async down(db) {
    await sql`drop index items_note`.execute(db);
    await sql`alter table items drop column note`.execute(db);
  },
};

function provider(migrations: Record<string, Migration>): MigrationProvider {
  return { getMigrations: async () => migrations };
}

export const V1_ONLY = provider({ "0001_items": V1 });
export const V1_V2 = provider({ "0001_items": V1, "0002_items_note": V2 });

function openKysely(path: string): Kysely<any> {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  return new Kysely<any>({ dialect: new SqliteDialect({ database }) });
}

/** `count` tenant files at version 1 with `rows` items each (made once, then copied). */
export async function makeKyselyFleet(dir: string, count: number, rows: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const template = join(dir, "template.db");
  const created = new BetterSqlite3(template);
  created.close();
  const db = openKysely(template);
  const { error } = await new Migrator({ db, provider: V1_ONLY }).migrateToLatest();
  if (error) throw error;
  for (let id = 1; id <= rows; id++) {
    await db
      .insertInto("items")
      .values({ id, name: `item ${id}`, value: id })
      .execute();
  }
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  await db.destroy();
  return copyTemplate(template, dir, count, (i) => `tenant-${i}.db`);
}

/** The loop: every file in turn, Migrator.migrateToLatest(). */
export async function migrateSequentially(files: readonly string[]): Promise<void> {
  for (const file of files) {
    const db = openKysely(file);
    try {
      const { error } = await new Migrator({ db, provider: V1_V2 }).migrateToLatest();
      if (error) throw error;
    } finally {
      await db.destroy();
    }
  }
}

/** Back to version 1 everywhere (between rounds; not measured). */
export async function revertSequentially(files: readonly string[]): Promise<void> {
  for (const file of files) {
    const db = openKysely(file);
    try {
      const { error } = await new Migrator({ db, provider: V1_V2 }).migrateTo("0001_items");
      if (error) throw error;
    } finally {
      await db.destroy();
    }
  }
}
