/** Data sets the scenarios share: a hub with N tenants of an `items` table. */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { sql } from "kysely";
import type { SqliteStorageDriver } from "../../src/drivers/sqlite/index.js";
import {
  createTenantbase,
  type Migration,
  type PoolOptions,
  sqlite,
  sqlMigration,
  storageName,
  type Tenantbase,
} from "../../src/index.js";

export const ITEMS_V1_SQL =
  "create table items (id integer primary key, name text not null, value integer not null)";

export const ITEMS_V1 = sqlMigration("0001_items", ITEMS_V1_SQL, "drop table items");

/** The fleet migration's statements: a column with an index (the raw baseline runs them too). */
export const ITEMS_V2_UP = [
  "alter table items add column note text",
  "create index items_note on items (note)",
];
export const ITEMS_V2_DOWN = ["drop index items_note", "alter table items drop column note"];

/** The fleet migration. */
export const ITEMS_V2 = sqlMigration("0002_items_note", ITEMS_V2_UP, ITEMS_V2_DOWN);

export const ROWS_PER_TENANT = 100;

export function tenantKey(i: number): string {
  return `tenant-${i}`;
}

export function itemName(tenant: number, id: number): string {
  return `item ${id} of tenant ${tenant}`;
}

export function openHub(
  dir: string,
  options: { migrations?: Migration[]; pool?: PoolOptions } = {},
): Tenantbase {
  return createTenantbase({
    driver: sqlite({ dir: join(dir, "data") }),
    migrations: options.migrations ?? [ITEMS_V1],
    pool: options.pool ?? { maxOpen: 1000, idleTimeoutMs: 0 },
  });
}

/** Creates tenants 0..n-1 (those missing), each with `rows` items. */
export async function seedTenants(
  hub: Tenantbase,
  n: number,
  rows = ROWS_PER_TENANT,
  log?: (message: string) => void,
): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    await hub.tenants.create(tenantKey(i));
    if (rows > 0) {
      // Setup, not measured: straight into the new (not yet opened) file.
      fillFile(tenantFile(hub, tenantKey(i)), (db) => {
        const insert = db.prepare("insert into items (id, name, value) values (?, ?, ?)");
        for (let id = 1; id <= rows; id++) insert.run(id, itemName(i, id), id * 7);
      });
    }
    if (log && i > 0 && i % 10_000 === 0) log(`seeded ${i} tenants`);
  }
  log?.(`seeded ${n} tenants x ${rows} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The SQLite file of a tenant (the sqlite driver's layout). */
export function tenantFile(hub: Tenantbase, key: string): string {
  return (hub.driver as SqliteStorageDriver).pathOf(storageName(key));
}

/** Opens a database file, runs `fill` in one transaction, closes it. */
export function fillFile(path: string, fill: (db: Database) => void): void {
  const db = new BetterSqlite3(path, { fileMustExist: true });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.transaction(() => fill(db))();
  } finally {
    db.close();
  }
}

export { sql };

/** `count` copies of a template database file in `dir`, named by `name(i)`; their paths. */
export function copyTemplate(
  template: string,
  dir: string,
  count: number,
  name: (i: number) => string,
): string[] {
  return Array.from({ length: count }, (_, i) => {
    const file = join(dir, name(i));
    copyFileSync(template, file);
    return file;
  });
}
