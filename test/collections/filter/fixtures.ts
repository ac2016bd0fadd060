/**
 * One table, the same rows, in SQLite (:memory:) and in a throwaway
 * PostgreSQL schema, so every behaviour test runs on both dialects.
 */

import Database from "better-sqlite3";
import { Kysely, PostgresDialect, type RawBuilder, type SqlBool, SqliteDialect, sql } from "kysely";
import pg from "pg";
import type { FilterContext, FilterField } from "../../../src/collections/filter/index.js";

export const FIELDS: FilterField[] = [
  { name: "id", column: "id", type: "text" },
  { name: "title", column: "title", type: "text" },
  { name: "views", column: "views", type: "number" },
  { name: "active", column: "active", type: "bool" },
  { name: "created", column: "created", type: "autodate" },
  { name: "updated", column: "updated", type: "autodate" },
  { name: "meta", column: "meta", type: "json" },
  { name: "tags", column: "tags", type: "select", multiple: true },
  { name: "single", column: "single", type: "select" },
  { name: "author", column: "author", type: "relation" },
  { name: "email", column: "email", type: "email", visibleWhen: "emailVisibility" },
  { name: "emailVisibility", column: "emailVisibility", type: "bool" },
  { name: "secret", column: "secret", type: "password", hidden: true },
  // A column name that needs quoting: it must reach SQL only as a quoted identifier.
  { name: "odd", column: 'odd "col"; drop table items; --', type: "text" },
];

export const fieldMap = (): Map<string, FilterField> => new Map(FIELDS.map((f) => [f.name, f]));

export interface Row {
  id: string;
  title: string | null;
  views: number | null;
  active: boolean | null;
  created: string | null;
  updated: string | null;
  meta: unknown;
  tags: string[] | null;
  single: string | null;
  author: string | null;
  email: string | null;
  emailVisibility: boolean | null;
  secret: string | null;
  odd: string | null;
}

export const ROWS: Row[] = [
  {
    id: "r1",
    title: "Hello World",
    views: 10,
    active: true,
    created: "2024-01-01 10:00:00.000Z",
    updated: "2024-01-05 00:00:00.000Z",
    meta: { a: { b: 1 }, list: ["x", "y"], s: "Str", n: 5, t: true },
    tags: ["a", "b"],
    single: "a",
    author: "u1",
    email: "one@example.com",
    emailVisibility: true,
    secret: "s1",
    odd: "o1",
  },
  {
    id: "r2",
    title: "hello",
    views: 5.5,
    active: false,
    created: "2024-02-01 00:00:00.000Z",
    updated: "2024-01-01 00:00:00.000Z",
    meta: { a: { b: "1" }, n: "5", s: "abc" },
    tags: ["b"],
    single: "b",
    author: "u2",
    email: "two@example.com",
    emailVisibility: false,
    secret: "s2",
    odd: "",
  },
  {
    id: "r3",
    title: "",
    views: 0,
    active: false,
    created: "2024-03-01 00:00:00.000Z",
    updated: "2024-03-01 00:00:00.000Z",
    meta: null,
    tags: [],
    single: "",
    author: "",
    email: "",
    emailVisibility: false,
    secret: "",
    odd: "",
  },
  {
    id: "r4",
    title: null,
    views: null,
    active: null,
    created: null,
    updated: null,
    meta: { a: null, n: null },
    tags: null,
    single: null,
    author: null,
    email: null,
    emailVisibility: null,
    secret: null,
    odd: null,
  },
  {
    id: "r5",
    title: "100% sure_thing\\ok",
    views: -3,
    active: true,
    created: "2025-06-15 08:00:00.000Z",
    updated: "2025-06-16 00:00:00.000Z",
    meta: [1, 2, 3],
    tags: ["c", "a", "a"],
    single: "c",
    author: "u1",
    email: "x@y.z",
    emailVisibility: true,
    secret: "s5",
    odd: "o5",
  },
  {
    id: "r6",
    title: "ÀB big",
    views: 1_000_000,
    active: true,
    created: "2023-12-31 23:59:59.999Z",
    updated: "2023-12-31 23:59:59.999Z",
    meta: { n: 5.5, s: "" },
    tags: ["A"],
    single: "a",
    author: "u3",
    email: "six@example.com",
    emailVisibility: true,
    secret: "s6",
    odd: "o6",
  },
];

/** A fixed "now" for the date macros: Sunday 2025-06-15 12:00 UTC. */
export const NOW = new Date("2025-06-15T12:00:00.000Z");

export interface TestDb {
  dialect: "sqlite" | "postgres";
  db: Kysely<any>;
  /** Ids of the rows the filter selects, sorted. */
  select(where: RawBuilder<SqlBool>): Promise<string[]>;
  /** Ids in the order the ORDER BY terms give. */
  ordered(orderBy: RawBuilder<unknown>[]): Promise<string[]>;
  count(): Promise<number>;
  sentinelIntact(): Promise<boolean>;
  close(): Promise<void>;
}

function rowValues(row: Row) {
  return {
    ...row,
    meta: row.meta === null ? null : JSON.stringify(row.meta),
    tags: row.tags === null ? null : JSON.stringify(row.tags),
  };
}

const COLUMNS = (
  types: Record<"text" | "number" | "bool" | "json" | "multi", string>,
  odd: string,
): string =>
  [
    `"id" ${types.text} PRIMARY KEY`,
    `"title" ${types.text}`,
    `"views" ${types.number}`,
    `"active" ${types.bool}`,
    `"created" ${types.text}`,
    `"updated" ${types.text}`,
    `"meta" ${types.json}`,
    `"tags" ${types.multi}`,
    `"single" ${types.text}`,
    `"author" ${types.text}`,
    `"email" ${types.text}`,
    `"emailVisibility" ${types.bool}`,
    `"secret" ${types.text}`,
    `${odd} ${types.text}`,
  ].join(", ");

const ODD_COLUMN = '"odd ""col""; drop table items; --"';

export async function openSqlite(rows: Row[] = ROWS): Promise<TestDb> {
  const database = new Database(":memory:");
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database }) });
  // The affinities PocketBase uses: NUMERIC for numbers, BOOLEAN (numeric) for bools, JSON for JSON.
  database.exec(
    `CREATE TABLE items (${COLUMNS({ text: "TEXT", number: "NUMERIC", bool: "BOOLEAN", json: "JSON", multi: "JSON" }, ODD_COLUMN)})`,
  );
  database.exec("CREATE TABLE sentinel (x INTEGER)");
  database.exec("INSERT INTO sentinel VALUES (1)");
  const insert = database.prepare(
    `INSERT INTO items VALUES (@id, @title, @views, @active, @created, @updated, @meta, @tags, @single, @author, @email, @emailVisibility, @secret, @odd)`,
  );
  for (const row of rows) {
    const v = rowValues(row);
    insert.run({
      ...v,
      active: v.active === null ? null : Number(v.active),
      emailVisibility: v.emailVisibility === null ? null : Number(v.emailVisibility),
    });
  }
  return wrap("sqlite", db, (q) => q);
}

let schemaCounter = 0;

export async function openPostgres(rows: Row[] = ROWS): Promise<TestDb> {
  const schema = `filter_test_${process.pid}_${Date.now()}_${schemaCounter++}`;
  const pool = new pg.Pool({
    host: "127.0.0.1",
    port: 5432,
    user: "postgres",
    database: "test",
    max: 2,
  });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`SELECT 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw new Error(
      `PostgreSQL is not reachable at 127.0.0.1:5432 (start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): ${String(error)}`,
    );
  }
  const s = sql.id(schema);
  await sql`CREATE SCHEMA ${s}`.execute(db);
  // JSON field as JSONB, multi-valued field as TEXT holding JSON: both shapes must work.
  await sql
    .raw(
      `CREATE TABLE "${schema}".items (${COLUMNS({ text: "TEXT", number: "DOUBLE PRECISION", bool: "BOOLEAN", json: "JSONB", multi: "TEXT" }, ODD_COLUMN)})`,
    )
    .execute(db);
  await sql`CREATE TABLE ${s}.sentinel (x INTEGER)`.execute(db);
  await sql`INSERT INTO ${s}.sentinel VALUES (1)`.execute(db);
  for (const row of rows) {
    const v = rowValues(row);
    await db
      .withSchema(schema)
      .insertInto("items")
      .values({ ...v, 'odd "col"; drop table items; --': v.odd, odd: undefined })
      .execute();
  }
  const test = wrap("postgres", db, (q) => q.withSchema(schema));
  return {
    ...test,
    async close() {
      await sql`DROP SCHEMA ${s} CASCADE`.execute(db);
      await db.destroy();
    },
  };
}

function wrap(dialect: "sqlite" | "postgres", db: Kysely<any>, scoped: (db: any) => any): TestDb {
  const from = () => scoped(db).selectFrom("items");
  return {
    dialect,
    db,
    async select(where) {
      const rows: { id: string }[] = await from().select("id").where(where).execute();
      return rows.map((r) => r.id).sort();
    },
    async ordered(orderBy) {
      let query = from().select("id");
      for (const term of orderBy) query = query.orderBy(term);
      const rows: { id: string }[] = await query.execute();
      return rows.map((r) => r.id);
    },
    async count() {
      const row = await from()
        .select((eb: any) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async sentinelIntact() {
      const rows = await scoped(db).selectFrom("sentinel").selectAll().execute();
      return rows.length === 1;
    },
    async close() {
      await db.destroy();
    },
  };
}

export function context(
  dialect: "sqlite" | "postgres",
  extra: Partial<FilterContext> = {},
): FilterContext {
  return { dialect, fields: fieldMap(), now: NOW, ...extra };
}

export const DIALECTS = [
  ["sqlite", openSqlite],
  ["postgres", openPostgres],
] as const;
