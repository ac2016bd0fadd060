/**
 * Baseline: raw better-sqlite3 on ONE database, as a competent user writes
 * it: WAL, synchronous=NORMAL, a composite primary key (tenant_id, id) so a
 * point read is one index seek, and a prepared statement reused for every read.
 */
import BetterSqlite3, { type Database, type Statement } from "better-sqlite3";
import { itemName } from "../lib/fixtures.js";

export interface RawItems {
  db: Database;
  get: Statement<[number, number]>;
  close(): void;
}

export function openRawItems(path: string, tenants: number, rows: number): RawItems {
  const db = new BetterSqlite3(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(
    `create table if not exists items (
       tenant_id integer not null,
       id integer not null,
       name text not null,
       value integer not null,
       primary key (tenant_id, id)
     )`,
  );
  const insert = db.prepare("insert into items (tenant_id, id, name, value) values (?, ?, ?, ?)");
  db.transaction(() => {
    for (let t = 0; t < tenants; t++) {
      for (let id = 1; id <= rows; id++) insert.run(t, id, itemName(t, id), id * 7);
    }
  })();
  const get = db.prepare<[number, number]>(
    "select id, name, value from items where tenant_id = ? and id = ?",
  );
  return { db, get, close: () => db.close() };
}
