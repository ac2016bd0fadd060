/**
 * Copying tenants from a SQLite hub to a PostgreSQL hub, verified row for row
 * (`tenantbase copy`). Both hubs are opened with the same app definition, so
 * they have the same tenant migrations; every source tenant must be at the
 * current version.
 *
 * Per tenant: the target tenant is created (provisioned at the current
 * version, so its migration bookkeeping is written by provisioning), then in
 * one target transaction every other table is emptied of the template's seed
 * rows, filled from one read transaction on the source (values converted to
 * the target column's type), and its sequences set past the copied ids. The
 * catalog state that matters (status, metadata, creation and activity times)
 * follows. Then both sides are read again and compared row for row.
 *
 * A tenant that already exists in the target is never written to: it is
 * verified, and reported `skipped` when equal, `conflict` when not.
 *
 * Tenant keys only ever reach SQL as parameters or through the drivers'
 * storage names; table and column names come from the schemas and are
 * always quoted as identifiers.
 */
import { Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { dialectOf } from "../drivers/driver.js";
import { readApplied } from "../migrations/migrator.js";
import type { TenantRow } from "./catalog.js";
import { TenantbaseError } from "./errors.js";
import type { Tenantbase } from "./hub.js";

export type CopyStatus =
  /** Copied now, and verified equal. */
  | "copied"
  /** Already in the target and verified equal: nothing written. */
  | "skipped"
  /** Already in the target but different: nothing written. */
  | "conflict"
  /** Not copied (source behind on migrations, failed, an error), or copied but not equal. */
  | "failed"
  /** verifyOnly: equal. */
  | "equal"
  /** verifyOnly: different. */
  | "differs"
  /** verifyOnly: not in the target. */
  | "missing";

export const COPY_STATUSES: readonly CopyStatus[] = [
  "copied",
  "skipped",
  "conflict",
  "failed",
  "equal",
  "differs",
  "missing",
];

/** The statuses that make a copy (or a verification) unsuccessful. */
export const FAILED_STATUSES: readonly CopyStatus[] = ["conflict", "failed", "differs", "missing"];

/** The first difference found between a source tenant and its target copy. */
export interface CopyDifference {
  /** The table, or null for the tenant's catalog state or its migrations. */
  table: string | null;
  /** The row's primary key (or the whole row, for a table without one), as read from the source. */
  row: Record<string, unknown> | null;
  /** The column that differs, when one does. */
  column: string | null;
  message: string;
}

export interface TableCount {
  table: string;
  rows: number;
}

export interface TenantVerification {
  equal: boolean;
  tables: TableCount[];
  rows: number;
  difference: CopyDifference | null;
}

export interface TenantCopyResult {
  key: string;
  status: CopyStatus;
  /** Tables compared (the source's, migration bookkeeping excluded). */
  tables: number;
  /** Rows over those tables, in the source. */
  rows: number;
  tableRows: TableCount[];
  /** Why it failed, or what differs. */
  error: string | null;
  difference: CopyDifference | null;
}

export interface CopyProgress {
  done: number;
  total: number;
  failed: number;
}

export interface CopyTenantsOptions {
  /** Only these keys (default: every live tenant of the source, oldest key first). */
  tenants?: readonly string[];
  /** Tenants copied at once (default 4). */
  concurrency?: number;
  /** Compare only: write nothing, report equal / differs / missing per tenant. */
  verifyOnly?: boolean;
  onProgress?: (progress: CopyProgress) => void;
}

export interface CopyTenantsReport {
  tenants: TenantCopyResult[];
  counts: Record<CopyStatus, number>;
  /** No tenant failed, conflicted, differs or is missing. */
  ok: boolean;
}

export class CopyError extends TenantbaseError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
  }
}

/** A found difference, thrown out of the comparison loops. */
class Different extends Error {
  constructor(readonly difference: CopyDifference) {
    super(difference.message);
  }
}

const PAGE_ROWS = 2000;
/** Parameters per INSERT (PostgreSQL allows 65535). */
const MAX_PARAMETERS = 30_000;

export type ValueKind =
  | "bool"
  | "int"
  | "float"
  | "numeric"
  | "text"
  | "bytea"
  | "json"
  | "timestamp"
  | "date"
  | "other";

interface ColumnInfo {
  name: string;
  kind: ValueKind;
  /** GENERATED ALWAYS AS (...) STORED: never inserted. */
  generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY: inserted with OVERRIDING SYSTEM VALUE. */
  identityAlways: boolean;
  /** The sequence feeding the column (serial, identity), qualified and quoted. */
  sequence: string | null;
}

interface TableInfo {
  name: string;
  columns: ColumnInfo[];
  primaryKey: string[];
  /** Tables this one references by foreign key (copied first). */
  references: string[];
}

type Row = Record<string, unknown>;

function kindOf(typname: string): ValueKind {
  switch (typname) {
    case "bool":
      return "bool";
    case "int2":
    case "int4":
    case "int8":
    case "oid":
      return "int";
    case "float4":
    case "float8":
      return "float";
    case "numeric":
      return "numeric";
    case "text":
    case "varchar":
    case "bpchar":
    case "name":
    case "citext":
      return "text";
    case "bytea":
      return "bytea";
    case "json":
    case "jsonb":
      return "json";
    case "timestamp":
    case "timestamptz":
      return "timestamp";
    case "date":
      return "date";
    default:
      return "other";
  }
}

function requireDialects(source: Tenantbase, target: Tenantbase): void {
  if (source.driver.dialect !== "sqlite") {
    throw new CopyError("COPY_UNSUPPORTED", "The source of a copy must be a SQLite hub.");
  }
  if (target.driver.dialect !== "postgres") {
    throw new CopyError("COPY_UNSUPPORTED", "The target of a copy must be a PostgreSQL hub.");
  }
}

/** Both hubs must have the same tenant migrations: open them with the same app definition. */
export function assertSameMigrations(source: Tenantbase, target: Tenantbase): void {
  const describe = (hub: Tenantbase) =>
    hub.migrationTracks().map((track) => ({
      table: track.table,
      migrations: track.migrations.map((m) => `${m.name}\0${m.checksum}`),
    }));
  const a = describe(source);
  const b = describe(target);
  for (const track of a) {
    const other = b.find((t) => t.table === track.table);
    const same =
      other &&
      other.migrations.length === track.migrations.length &&
      other.migrations.every((m, i) => m === track.migrations[i]);
    if (!same) {
      throw new CopyError(
        "COPY_MIGRATIONS_DIFFER",
        `The source and the target have different tenant migrations (${track.table}): open both with the same app definition (--app).`,
        { table: track.table },
      );
    }
  }
  const extra = b.find((t) => !a.some((s) => s.table === t.table));
  if (extra) {
    throw new CopyError(
      "COPY_MIGRATIONS_DIFFER",
      `The target has tenant migrations the source does not (${extra.table}).`,
      { table: extra.table },
    );
  }
}

/**
 * Runs `fn` on a tenant's database opened directly (not woken: nothing
 * migrates it), while the hub holds the tenant closed.
 */
async function withTenantDb<T>(
  hub: Tenantbase,
  key: string,
  fn: (db: Kysely<any>, row: TenantRow) => Promise<T>,
): Promise<T> {
  return hub.exclusive(key, async () => {
    const row = await hub.catalog.get(key);
    if (!row)
      throw new CopyError("TENANT_NOT_FOUND", `Tenant ${JSON.stringify(key)} does not exist.`);
    const driver = await hub.driver.open(row.storage_name);
    const db = new Kysely<any>({ dialect: dialectOf(hub.driver, driver) });
    try {
      return await fn(db, row);
    } finally {
      await db.destroy();
    }
  });
}

/** Throws unless the database has applied exactly the hub's migrations, track by track. */
async function assertCurrent(
  hub: Tenantbase,
  db: Kysely<any>,
  key: string,
  side: "source" | "target",
): Promise<void> {
  for (const track of hub.migrationTracks()) {
    const rows = await readApplied(db, track.table);
    const mismatch = rows.findIndex(
      (row, i) =>
        row.name !== track.migrations[i]?.name || row.checksum !== track.migrations[i]?.checksum,
    );
    if (mismatch >= 0) {
      throw new CopyError(
        "COPY_MIGRATIONS_DIFFER",
        `Tenant ${JSON.stringify(key)} in the ${side} has applied migration ${rows[mismatch]!.name} (${track.table}), which the code does not have at that position.`,
        { key, side },
      );
    }
    if (rows.length < track.migrations.length) {
      const total = hub.targetVersion();
      const version = await countApplied(hub, db);
      throw new CopyError(
        "COPY_SOURCE_BEHIND",
        side === "source"
          ? `Tenant ${JSON.stringify(key)} is at version ${version} of ${total} in the source: run \`tenantbase migrate\` on the source first (or copy with --migrate).`
          : `Tenant ${JSON.stringify(key)} is at version ${version} of ${total} in the target: run \`tenantbase migrate\` on the target first.`,
        { key, side, version, target: total },
      );
    }
  }
}

async function countApplied(hub: Tenantbase, db: Kysely<any>): Promise<number> {
  let total = 0;
  for (const track of hub.migrationTracks()) total += (await readApplied(db, track.table)).length;
  return total;
}

// ---------------------------------------------------------------- schemas

async function sourceTables(
  db: Kysely<any>,
  skip: ReadonlySet<string>,
): Promise<Map<string, string[]>> {
  const { rows } = await sql<{ name: string }>`
    select name from sqlite_schema
    where type = 'table' and name not like 'sqlite\\_%' escape '\\'
    order by name`.execute(db);
  const tables = new Map<string, string[]>();
  for (const { name } of rows) {
    if (skip.has(name)) continue;
    const columns = await sql<{ name: string }>`
      select name from pragma_table_xinfo(${name}) where hidden <> 1 order by cid`.execute(db);
    tables.set(
      name,
      columns.rows.map((c) => c.name),
    );
  }
  return tables;
}

async function targetTables(db: Kysely<any>, skip: ReadonlySet<string>): Promise<TableInfo[]> {
  const here = sql`(select oid from pg_namespace where nspname = current_schema())`;
  const columns = await sql<{
    table: string;
    column: string;
    typname: string;
    identity: string;
    generated: string;
    sequence: string | null;
  }>`
    select c.relname as "table", a.attname as "column", t.typname as typname,
      a.attidentity as identity, a.attgenerated as generated,
      pg_get_serial_sequence(c.oid::regclass::text, a.attname) as sequence
    from pg_class c
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    join pg_type t on t.oid = a.atttypid
    where c.relnamespace = ${here} and c.relkind in ('r', 'p')
    order by c.relname, a.attnum`.execute(db);
  const keys = await sql<{ table: string; column: string }>`
    select c.relname as "table", a.attname as "column"
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    cross join lateral unnest(con.conkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
    where con.contype = 'p' and c.relnamespace = ${here}
    order by c.relname, k.ord`.execute(db);
  const foreign = await sql<{ table: string; references: string }>`
    select c.relname as "table", f.relname as "references"
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_class f on f.oid = con.confrelid
    where con.contype = 'f' and c.relnamespace = ${here}`.execute(db);
  const tables = new Map<string, TableInfo>();
  for (const c of columns.rows) {
    if (skip.has(c.table)) continue;
    let table = tables.get(c.table);
    if (!table) {
      table = { name: c.table, columns: [], primaryKey: [], references: [] };
      tables.set(c.table, table);
    }
    table.columns.push({
      name: c.column,
      kind: kindOf(c.typname),
      generated: c.generated === "s",
      identityAlways: c.identity === "a",
      sequence: c.sequence,
    });
  }
  for (const k of keys.rows) tables.get(k.table)?.primaryKey.push(k.column);
  for (const f of foreign.rows) {
    const table = tables.get(f.table);
    if (table && f.references !== f.table && !table.references.includes(f.references)) {
      table.references.push(f.references);
    }
  }
  return [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The target's tables, checked against the source's: same tables, same columns. */
function matchSchemas(source: Map<string, string[]>, target: TableInfo[]): void {
  const fail = (message: string, table: string) => {
    throw new Different({ table, row: null, column: null, message });
  };
  for (const [name, columns] of source) {
    const table = target.find((t) => t.name === name);
    if (!table)
      fail(`table ${JSON.stringify(name)} exists in the source but not in the target`, name);
    for (const column of columns) {
      if (!table!.columns.some((c) => c.name === column)) {
        fail(
          `table ${JSON.stringify(name)}: column ${JSON.stringify(column)} exists in the source but not in the target`,
          name,
        );
      }
    }
    for (const column of table!.columns) {
      if (!columns.includes(column.name)) {
        fail(
          `table ${JSON.stringify(name)}: column ${JSON.stringify(column.name)} exists in the target but not in the source`,
          name,
        );
      }
    }
  }
  for (const table of target) {
    if (!source.has(table.name)) {
      fail(
        `table ${JSON.stringify(table.name)} exists in the target but not in the source`,
        table.name,
      );
    }
  }
}

/** Parents before children (by foreign key), otherwise by name. */
function insertionOrder(tables: TableInfo[]): TableInfo[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: TableInfo[] = [];
  const visit = (table: TableInfo) => {
    if (done.has(table.name) || visiting.has(table.name)) return;
    visiting.add(table.name);
    for (const parent of table.references) {
      const p = byName.get(parent);
      if (p) visit(p);
    }
    visiting.delete(table.name);
    done.add(table.name);
    order.push(table);
  };
  for (const table of tables) visit(table);
  return order;
}

// ---------------------------------------------------------------- values

/** A SQLite column, with integers beyond JavaScript's safe range read as text (no precision lost). */
function sourceColumn(name: string): RawBuilder<unknown> {
  const c = sql.id(name);
  return sql`case when typeof(${c}) = 'integer' and (${c} > 9007199254740991 or ${c} < -9007199254740991) then cast(${c} as text) else ${c} end as ${c}`;
}

function sourceSelect(table: TableInfo, order: "key" | "rowid", offset: number, limit: number) {
  const by =
    order === "key" && table.primaryKey.length > 0
      ? sql.join(table.primaryKey.map((k) => sql.id(k)))
      : sql`rowid`;
  return sql<Row>`select ${sql.join(table.columns.map((c) => sourceColumn(c.name)))} from ${sql.id(table.name)} order by ${by} limit ${limit} offset ${offset}`;
}

function targetOrder(table: TableInfo): RawBuilder<unknown> {
  return sql.join(
    table.primaryKey.map((name) => {
      const column = table.columns.find((c) => c.name === name);
      // Byte order, as SQLite's BINARY collation compares UTF-8 text.
      return column?.kind === "text" ? sql`${sql.id(name)} collate "C"` : sql.id(name);
    }),
  );
}

function targetSelect(table: TableInfo, offset: number, limit: number) {
  return sql<Row>`select ${sql.join(table.columns.map((c) => sql.id(c.name)))} from ${sql.id(table.name)} order by ${targetOrder(table)} limit ${limit} offset ${offset}`;
}

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** A value read from SQLite as a parameter for the target column. */
function toTarget(value: unknown, column: ColumnInfo): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case "bool":
      if (typeof value === "number") return value !== 0;
      if (typeof value === "bigint") return value !== 0n;
      return value;
    case "bytea":
      if (typeof value === "string") return Buffer.from(value, "utf8");
      if (isBytes(value) && !Buffer.isBuffer(value)) return Buffer.from(value);
      return value;
    case "json":
      return typeof value === "string" ? value : JSON.stringify(value);
    default:
      if (typeof value === "bigint") return value.toString();
      return value;
  }
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(",")}}`;
}

function normalizeDecimal(text: string): string {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return text.trim();
  const whole = (m[2] ?? "").replace(/^0+(?=\d)/, "") || "0";
  const fraction = (m[3] ?? "").replace(/0+$/, "");
  const digits = fraction ? `${whole}.${fraction}` : whole;
  return digits === "0" ? "0" : `${m[1] === "-" ? "-" : ""}${digits}`;
}

function localDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/**
 * One value in a form both sides agree on, by the target column's type:
 * SQLite's 0/1 and PostgreSQL's booleans, numbers and int8 strings, blobs
 * and bytea, JSON text and parsed JSON compare equal when they mean the same.
 */
export function canonicalValue(value: unknown, kind: ValueKind): string | null {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case "bool":
      if (
        value === true ||
        value === 1 ||
        value === 1n ||
        value === "1" ||
        value === "t" ||
        value === "true"
      )
        return "true";
      if (
        value === false ||
        value === 0 ||
        value === 0n ||
        value === "0" ||
        value === "f" ||
        value === "false"
      )
        return "false";
      return `?${String(value)}`;
    case "int":
      if (typeof value === "bigint") return value.toString();
      if (typeof value === "number")
        return Number.isInteger(value) ? BigInt(value).toString() : String(value);
      if (typeof value === "string" && /^\s*[+-]?\d+\s*$/.test(value))
        return BigInt(value.trim()).toString();
      break;
    case "float":
      if (typeof value === "number") return Object.is(value, -0) ? "0" : String(value);
      if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value)))
        return String(Number(value));
      break;
    case "numeric":
      if (typeof value === "number" || typeof value === "bigint" || typeof value === "string")
        return normalizeDecimal(String(value));
      break;
    case "bytea":
      if (isBytes(value)) return `\\x${Buffer.from(value).toString("hex")}`;
      if (typeof value === "string") return `\\x${Buffer.from(value, "utf8").toString("hex")}`;
      break;
    case "json":
      if (typeof value === "string") {
        try {
          return stableJson(JSON.parse(value));
        } catch {
          return `?${value}`;
        }
      }
      return stableJson(value);
    case "timestamp": {
      const date = value instanceof Date ? value : new Date(value as string);
      if (!Number.isNaN(date.getTime())) return date.toISOString();
      break;
    }
    case "date":
      if (value instanceof Date) return localDate(value);
      break;
  }
  if (value instanceof Date) return value.toISOString();
  if (isBytes(value)) return `\\x${Buffer.from(value).toString("hex")}`;
  if (typeof value === "object") return stableJson(value);
  return String(value);
}

function canonicalRow(row: Row, table: TableInfo): Array<string | null> {
  return table.columns.map((c) => canonicalValue(row[c.name], c.kind));
}

/** How a row is named in messages: its primary key, or all of it. */
function rowId(row: Row, table: TableInfo): Row {
  const names = table.primaryKey.length > 0 ? table.primaryKey : table.columns.map((c) => c.name);
  const id: Row = {};
  for (const name of names) {
    const value = row[name];
    id[name] = isBytes(value) ? `\\x${Buffer.from(value).toString("hex")}` : value;
  }
  return id;
}

function show(value: string | null | undefined): string {
  if (value == null) return "NULL";
  return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
}

function showRow(id: Row): string {
  return JSON.stringify(id, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

// ---------------------------------------------------------------- copy

async function countRows(db: Kysely<any> | Transaction<any>, table: string): Promise<number> {
  const { rows } = await sql<{
    n: number | string;
  }>`select count(*) as n from ${sql.id(table)}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

async function insertRows(trx: Transaction<any>, table: TableInfo, rows: Row[]): Promise<void> {
  const columns = table.columns.filter((c) => !c.generated);
  if (columns.length === 0 || rows.length === 0) return;
  const overriding = columns.some((c) => c.identityAlways) ? sql` overriding system value` : sql``;
  const perBatch = Math.max(1, Math.min(PAGE_ROWS, Math.floor(MAX_PARAMETERS / columns.length)));
  for (let i = 0; i < rows.length; i += perBatch) {
    const batch = rows.slice(i, i + perBatch);
    const values = sql.join(
      batch.map((row) => sql`(${sql.join(columns.map((c) => toTarget(row[c.name], c)))})`),
    );
    try {
      await sql`insert into ${sql.id(table.name)} (${sql.join(columns.map((c) => sql.id(c.name)))})${overriding} values ${values}`.execute(
        trx,
      );
    } catch (error) {
      const first = batch[0] ? showRow(rowId(batch[0], table)) : "";
      throw new CopyError(
        "COPY_INSERT_FAILED",
        `table ${JSON.stringify(table.name)}: inserting ${batch.length} rows from ${first} failed: ${(error as Error).message}`,
        { table: table.name },
      );
    }
  }
}

/** Sets every serial/identity sequence past the largest copied value. */
async function resetSequences(trx: Transaction<any>, table: TableInfo): Promise<void> {
  for (const column of table.columns) {
    if (!column.sequence) continue;
    await sql`select setval(${column.sequence}::regclass, m) from (select max(${sql.id(column.name)}) as m from ${sql.id(table.name)}) as copied where m is not null`.execute(
      trx,
    );
  }
}

async function copyRows(
  key: string,
  skip: ReadonlySet<string>,
  source: Kysely<any>,
  target: Kysely<any>,
): Promise<void> {
  await source
    .transaction()
    .setAccessMode("read only")
    .execute(async (src) => {
      await target.transaction().execute(async (dst) => {
        const tables = await targetTables(dst, skip);
        try {
          matchSchemas(await sourceTables(src, skip), tables);
        } catch (error) {
          if (error instanceof Different) {
            throw new CopyError("COPY_SCHEMA_DIFFERS", error.difference.message, { key });
          }
          throw error;
        }
        // Rows the template's migrations wrote (seed data) make way for the source's.
        if (tables.length > 0) {
          await sql`truncate table ${sql.join(tables.map((t) => sql.id(t.name)))}`.execute(dst);
        }
        for (const table of insertionOrder(tables)) {
          for (let offset = 0; ; offset += PAGE_ROWS) {
            const { rows } = await sourceSelect(table, "key", offset, PAGE_ROWS).execute(src);
            await insertRows(dst, table, rows);
            if (rows.length < PAGE_ROWS) break;
          }
          await resetSequences(dst, table);
        }
      });
    });
}

// ---------------------------------------------------------------- verify

async function compareTable(
  src: Transaction<any>,
  dst: Transaction<any>,
  table: TableInfo,
): Promise<number> {
  const sourceCount = await countRows(src, table.name);
  const targetCount = await countRows(dst, table.name);
  const counts =
    sourceCount === targetCount
      ? ""
      : ` (${sourceCount} rows in the source, ${targetCount} in the target)`;
  const differ = (message: string, row: Row | null, column: string | null = null): never => {
    throw new Different({
      table: table.name,
      row,
      column,
      message: `table ${JSON.stringify(table.name)}${counts}: ${message}`,
    });
  };
  if (table.primaryKey.length === 0) {
    // No key to order by on both sides alike: compare as multisets.
    const read = (rows: Row[]) =>
      rows
        .map((row) => ({ row, text: JSON.stringify(canonicalRow(row, table)) }))
        .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const a = read(
      (
        await sql<Row>`select ${sql.join(table.columns.map((c) => sourceColumn(c.name)))} from ${sql.id(table.name)}`.execute(
          src,
        )
      ).rows,
    );
    const b = read(
      (
        await sql<Row>`select ${sql.join(table.columns.map((c) => sql.id(c.name)))} from ${sql.id(table.name)}`.execute(
          dst,
        )
      ).rows,
    );
    const bTexts = new Map<string, number>();
    for (const { text } of b) bTexts.set(text, (bTexts.get(text) ?? 0) + 1);
    for (const { row, text } of a) {
      const left = bTexts.get(text) ?? 0;
      if (left === 0)
        differ(
          `row ${showRow(rowId(row, table))} is missing from the target or differs there`,
          rowId(row, table),
        );
      bTexts.set(text, left - 1);
    }
    const extra = b.find(({ text }) => (bTexts.get(text) ?? 0) > 0);
    if (extra)
      differ(
        `the target has a row ${showRow(rowId(extra.row, table))} the source does not`,
        rowId(extra.row, table),
      );
    return sourceCount;
  }
  const key = table.primaryKey.map((name) => table.columns.findIndex((c) => c.name === name));
  let position = 0;
  for (let offset = 0; ; offset += PAGE_ROWS) {
    const a = (await sourceSelect(table, "key", offset, PAGE_ROWS).execute(src)).rows;
    const b = (await targetSelect(table, offset, PAGE_ROWS).execute(dst)).rows;
    for (let i = 0; i < Math.max(a.length, b.length); i++, position++) {
      const s = a[i];
      const t = b[i];
      if (!t)
        differ(`row ${showRow(rowId(s!, table))} is missing from the target`, rowId(s!, table));
      if (!s)
        differ(
          `the target has a row ${showRow(rowId(t!, table))} the source does not`,
          rowId(t!, table),
        );
      const sourceId = rowId(s!, table);
      const left = canonicalRow(s!, table);
      const right = canonicalRow(t!, table);
      if (key.some((k) => left[k] !== right[k])) {
        const targetId = rowId(t!, table);
        if (sourceCount > targetCount) {
          differ(`row ${showRow(sourceId)} is missing from the target`, sourceId);
        }
        if (sourceCount < targetCount) {
          differ(`the target has a row ${showRow(targetId)} the source does not`, targetId);
        }
        differ(
          `row ${position + 1} is ${showRow(sourceId)} in the source but ${showRow(targetId)} in the target`,
          sourceId,
        );
      }
      for (let c = 0; c < table.columns.length; c++) {
        if (left[c] !== right[c]) {
          const column = table.columns[c]!.name;
          differ(
            `row ${showRow(sourceId)}, column ${JSON.stringify(column)}: ${show(left[c])} in the source, ${show(right[c])} in the target`,
            sourceId,
            column,
          );
        }
      }
    }
    if (a.length < PAGE_ROWS && b.length < PAGE_ROWS) break;
  }
  if (sourceCount !== targetCount) differ("row counts differ", null);
  return sourceCount;
}

function catalogDifference(source: TenantRow, target: TenantRow): CopyDifference | null {
  const status = (s: string) => (s === "suspended" ? "suspended" : "active");
  if (status(source.status) !== status(target.status)) {
    return {
      table: null,
      row: null,
      column: "status",
      message: `catalog: the tenant is ${source.status} in the source and ${target.status} in the target`,
    };
  }
  const meta = (text: string) => stableJson(JSON.parse(text));
  if (meta(source.metadata) !== meta(target.metadata)) {
    return {
      table: null,
      row: null,
      column: "metadata",
      message: "catalog: the tenant's metadata differs between the source and the target",
    };
  }
  return null;
}

function skipTables(hub: Tenantbase): Set<string> {
  return new Set(hub.migrationTracks().map((t) => t.table));
}

/**
 * Compares one tenant in the source and the target: catalog state, migration
 * state, then every table (row counts and every row). Throws when the source
 * cannot be compared (behind on migrations, missing in either hub).
 */
export async function verifyTenant(
  source: Tenantbase,
  target: Tenantbase,
  key: string,
): Promise<TenantVerification> {
  requireDialects(source, target);
  const skip = skipTables(source);
  return withTenantDb(source, key, (sourceDb, sourceRow) =>
    withTenantDb(target, key, async (targetDb, targetRow) => {
      await assertCurrent(source, sourceDb, key, "source");
      await assertCurrent(target, targetDb, key, "target");
      const tables: TableCount[] = [];
      let difference = catalogDifference(sourceRow, targetRow);
      await sourceDb
        .transaction()
        .setAccessMode("read only")
        .execute(async (src) => {
          const schema = await sourceTables(src, skip);
          for (const [name] of schema)
            tables.push({ table: name, rows: await countRows(src, name) });
          if (difference) return;
          await targetDb
            .transaction()
            .setIsolationLevel("repeatable read")
            .setAccessMode("read only")
            .execute(async (dst) => {
              try {
                const info = await targetTables(dst, skip);
                matchSchemas(schema, info);
                for (const table of info) await compareTable(src, dst, table);
              } catch (error) {
                if (!(error instanceof Different)) throw error;
                difference = error.difference;
              }
            });
        });
      return {
        equal: difference === null,
        tables,
        rows: tables.reduce((n, t) => n + t.rows, 0),
        difference,
      };
    }),
  );
}

function result(
  key: string,
  status: CopyStatus,
  verification: TenantVerification | null,
  error: string | null = verification?.difference?.message ?? null,
): TenantCopyResult {
  return {
    key,
    status,
    tables: verification?.tables.length ?? 0,
    rows: verification?.rows ?? 0,
    tableRows: verification?.tables ?? [],
    error,
    difference: verification?.difference ?? null,
  };
}

function messageOf(error: unknown): string {
  return (error as Error)?.message ?? String(error);
}

/** Copies one tenant (or, when it is already in the target, verifies it). Never throws for the tenant's own problems. */
export async function copyTenant(
  source: Tenantbase,
  target: Tenantbase,
  key: string,
  options: { verifyOnly?: boolean } = {},
): Promise<TenantCopyResult> {
  requireDialects(source, target);
  const row = await source.catalog.get(key);
  if (!row)
    return result(
      key,
      "failed",
      null,
      `Tenant ${JSON.stringify(key)} does not exist in the source.`,
    );
  if (row.status === "failed") {
    return result(
      key,
      "failed",
      null,
      `Tenant ${JSON.stringify(key)} failed to migrate in the source (${row.error ?? "unknown error"}): fix it and run \`tenantbase migrate\` on the source first.`,
    );
  }
  try {
    if (options.verifyOnly || (await target.catalog.get(key))) {
      if (!(await target.catalog.get(key)))
        return result(key, "missing", null, "not in the target");
      const verification = await verifyTenant(source, target, key);
      const status: CopyStatus = options.verifyOnly
        ? verification.equal
          ? "equal"
          : "differs"
        : verification.equal
          ? "skipped"
          : "conflict";
      return result(
        key,
        status,
        verification,
        verification.difference
          ? status === "conflict"
            ? `already in the target and different, left as it is: ${verification.difference.message}`
            : verification.difference.message
          : null,
      );
    }
    await withTenantDb(source, key, (db) => assertCurrent(source, db, key, "source"));
  } catch (error) {
    return result(key, "failed", null, messageOf(error));
  }

  const skip = skipTables(source);
  try {
    await target.tenants.create(key, {
      metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    });
  } catch (error) {
    return result(key, "failed", null, `creating it in the target failed: ${messageOf(error)}`);
  }
  try {
    await withTenantDb(source, key, (sourceDb) =>
      withTenantDb(target, key, (targetDb) => copyRows(key, skip, sourceDb, targetDb)),
    );
    await target.catalog.db
      .updateTable("tenants")
      .set({
        status: row.status === "suspended" ? "suspended" : "active",
        created_at: Number(row.created_at),
        last_active_at: row.last_active_at == null ? null : Number(row.last_active_at),
        updated_at: Date.now(),
      })
      .where("key", "=", key)
      .where("status", "<>", "deleted")
      .execute();
  } catch (error) {
    // Nothing half-copied stays behind: the new target tenant goes (into the target's archive).
    await target.tenants.delete(key).catch(() => {});
    return result(key, "failed", null, messageOf(error));
  }
  try {
    const verification = await verifyTenant(source, target, key);
    return result(
      key,
      verification.equal ? "copied" : "failed",
      verification,
      verification.difference
        ? `copied but not equal (the target copy is kept for inspection; delete it before copying again): ${verification.difference.message}`
        : null,
    );
  } catch (error) {
    return result(key, "failed", null, messageOf(error));
  }
}

async function allKeys(hub: Tenantbase): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await hub.tenants.list({ limit: 1000, cursor });
    keys.push(...page.items.map((t) => t.key));
    cursor = page.nextCursor;
  } while (cursor);
  return keys;
}

/**
 * Copies the source's tenants (all live ones, or `options.tenants`) into the
 * target and verifies each row for row. Collection definitions must already
 * be in the target (see `copyDeployment` in src/collections/copy.ts).
 */
export async function copyTenants(
  source: Tenantbase,
  target: Tenantbase,
  options: CopyTenantsOptions = {},
): Promise<CopyTenantsReport> {
  requireDialects(source, target);
  await source.ready();
  await target.ready();
  assertSameMigrations(source, target);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new CopyError("INVALID_ARGUMENT", "concurrency must be a positive whole number.");
  }
  const keys = options.tenants ? [...new Set(options.tenants)] : await allKeys(source);
  const results: TenantCopyResult[] = new Array(keys.length);
  const counts = Object.fromEntries(COPY_STATUSES.map((s) => [s, 0])) as Record<CopyStatus, number>;
  let next = 0;
  let done = 0;
  let failed = 0;
  options.onProgress?.({ done, total: keys.length, failed });
  const worker = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const outcome = await copyTenant(source, target, keys[i]!, {
        ...(options.verifyOnly ? { verifyOnly: true } : {}),
      });
      results[i] = outcome;
      counts[outcome.status]++;
      done++;
      if (FAILED_STATUSES.includes(outcome.status)) failed++;
      options.onProgress?.({ done, total: keys.length, failed });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
  return { tenants: results, counts, ok: failed === 0 };
}

export interface SettingCopy {
  name: string;
  /** copied: the target had none; same: equal already; kept: the target's differs and stays. */
  outcome: "copied" | "same" | "kept";
}

interface SettingsSchema {
  settings: { name: string; value: string; updated_at: number };
}

/**
 * Copies the catalog's settings (the stored admin token and JWT secret, so
 * tokens keep working) where the target has none. Never overwrites; values
 * are not reported.
 */
export async function copySettings(source: Tenantbase, target: Tenantbase): Promise<SettingCopy[]> {
  await source.ready();
  await target.ready();
  const from = source.catalog.db as unknown as Kysely<SettingsSchema>;
  const to = target.catalog.db as unknown as Kysely<SettingsSchema>;
  const rows = await from.selectFrom("settings").selectAll().orderBy("name").execute();
  const out: SettingCopy[] = [];
  for (const row of rows) {
    const read = () =>
      to.selectFrom("settings").select("value").where("name", "=", row.name).executeTakeFirst();
    const before = await read();
    if (before) {
      out.push({ name: row.name, outcome: before.value === row.value ? "same" : "kept" });
      continue;
    }
    await to
      .insertInto("settings")
      .values({ name: row.name, value: row.value, updated_at: Number(row.updated_at) })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    // Another process may have stored one meanwhile: theirs stays.
    out.push({ name: row.name, outcome: (await read())?.value === row.value ? "copied" : "kept" });
  }
  return out;
}
