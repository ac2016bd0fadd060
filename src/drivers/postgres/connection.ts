/**
 * A Kysely driver over one schema of a shared `pg` pool. It never relies on
 * session state: every unit of work runs in a transaction that starts with
 * `SET LOCAL search_path TO "<schema>"`, so the setting ends with the
 * transaction, a pooled connection carries nothing from one tenant to the
 * next, and the driver works behind PgBouncer in transaction mode.
 *
 * - A statement outside `db.transaction()` runs in a transaction of its own:
 *   `BEGIN; SET LOCAL search_path ...` (one round trip), the statement,
 *   `COMMIT`.
 * - `db.transaction()` (and the migrator's transactions) send the same
 *   prefix once at BEGIN; every statement inside runs as is.
 * - Tenant connections (not the catalog's) take a transaction-scoped
 *   advisory lock keyed by the schema at the start of every transaction but
 *   plain SELECTs: one writer per tenant across processes, never a global
 *   lock. It costs no extra round trip (it is part of the BEGIN batch).
 */

import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Driver,
  type Kysely,
  PostgresIntrospector,
  type QueryResult,
  type SchemaMetadata,
  SelectQueryNode,
  sql,
  type TableMetadata,
  type TransactionSettings,
} from "kysely";
import type { QueryResult as PgQueryResult, Pool, PoolClient } from "pg";

/** First key of the two-key advisory locks Tenantbase takes (its own namespace). */
export const ADVISORY_LOCK_CLASS = 0x7442; // "tB"

/** `"name"` with embedded quotes doubled: an SQL identifier, whatever `name` is. */
export function quoteIdentifier(name: string): string {
  if (name.includes("\0")) throw new Error("postgres: identifier contains NUL");
  return `"${name.replaceAll('"', '""')}"`;
}

/** `'text'` with embedded quotes doubled (standard_conforming_strings is set on in every prefix). */
export function quoteLiteral(text: string): string {
  if (text.includes("\0")) throw new Error("postgres: literal contains NUL");
  return `'${text.replaceAll("'", "''")}'`;
}

/** The statement that takes the per-schema transaction lock. */
export function lockStatement(schema: string): string {
  return `select pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}, hashtext(${quoteLiteral(schema)}))`;
}

/** The batch that opens a unit of work on `schema`. */
export function beginBatch(
  schema: string,
  options: { lock: boolean; settings?: TransactionSettings },
): string {
  let begin = "begin";
  if (options.settings?.isolationLevel)
    begin += ` isolation level ${options.settings.isolationLevel}`;
  if (options.settings?.accessMode) begin += ` ${options.settings.accessMode}`;
  const parts = [
    begin,
    `set local search_path to ${quoteIdentifier(schema)}`,
    "set local standard_conforming_strings to on",
  ];
  if (options.lock) parts.push(lockStatement(schema));
  return `${parts.join("; ")};`;
}

function toKyselyResult<R>(result: PgQueryResult | PgQueryResult[]): QueryResult<R> {
  // A script of several statements (simple protocol) answers one result per statement.
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  if (!last) return { rows: [] };
  const { command, rowCount, rows } = last;
  if (command === "ROLLBACK" || command === "COMMIT") return { rows: [{ command } as R] };
  return {
    numAffectedRows:
      command === "INSERT" || command === "UPDATE" || command === "DELETE" || command === "MERGE"
        ? BigInt(rowCount ?? 0)
        : undefined,
    rows: (rows ?? []) as R[],
  };
}

export interface PostgresConnectionOptions {
  /** Take the per-schema advisory lock in transactions (tenants: yes; catalog: no). */
  lock: boolean;
}

/** One unit of work's hold on a pooled client, scoped to one schema. */
export class PostgresSchemaConnection implements DatabaseConnection {
  readonly #client: PoolClient;
  readonly #schema: string;
  readonly #lock: boolean;
  #inTransaction = false;
  #broken = false;

  constructor(client: PoolClient, schema: string, options: PostgresConnectionOptions) {
    this.#client = client;
    this.#schema = schema;
    this.#lock = options.lock;
  }

  get inTransaction(): boolean {
    return this.#inTransaction;
  }

  get broken(): boolean {
    return this.#broken;
  }

  async #raw(text: string): Promise<PgQueryResult | PgQueryResult[]> {
    try {
      return await this.#client.query(text);
    } catch (error) {
      if (isConnectionError(error)) this.#broken = true;
      throw error;
    }
  }

  async #run(compiledQuery: CompiledQuery): Promise<PgQueryResult | PgQueryResult[]> {
    try {
      return await this.#client.query(compiledQuery.sql, [...compiledQuery.parameters]);
    } catch (error) {
      if (isConnectionError(error)) this.#broken = true;
      throw error;
    }
  }

  /**
   * Sends a BEGIN batch. If it fails halfway (a lock wait cancelled by a
   * timeout, ...) the session may be left in a transaction: the client is
   * then destroyed rather than returned to the pool.
   */
  async #open(batch: string): Promise<void> {
    try {
      await this.#client.query(batch);
    } catch (error) {
      this.#broken = true;
      throw error;
    }
  }

  async begin(settings?: TransactionSettings): Promise<void> {
    const lock = this.#lock && settings?.accessMode !== "read only";
    await this.#open(beginBatch(this.#schema, settings ? { lock, settings } : { lock }));
    this.#inTransaction = true;
  }

  async commit(): Promise<void> {
    this.#inTransaction = false;
    const result = await this.#raw("commit");
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    // PostgreSQL answers COMMIT with ROLLBACK when an error aborted the transaction.
    if (last?.command === "ROLLBACK") throw new Error("postgres: the transaction was aborted");
  }

  async rollback(): Promise<void> {
    this.#inTransaction = false;
    try {
      await this.#raw("rollback");
    } catch (error) {
      this.#broken = true;
      throw error;
    }
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#inTransaction) return toKyselyResult<R>(await this.#run(compiledQuery));
    // A statement of its own: its own transaction, so the search path never outlives it.
    const readOnly = SelectQueryNode.is(compiledQuery.query);
    // The prefix and a statement with parameters cannot share a batch: two round trips.
    await this.#open(beginBatch(this.#schema, { lock: this.#lock && !readOnly }));
    let result: PgQueryResult | PgQueryResult[];
    try {
      result = await this.#run(compiledQuery);
    } catch (error) {
      await this.#raw("rollback").catch(() => {
        this.#broken = true;
      });
      throw error;
    }
    const committed = await this.#raw("commit");
    const last = Array.isArray(committed) ? committed[committed.length - 1] : committed;
    if (last?.command === "ROLLBACK") throw new Error("postgres: the statement was rolled back");
    return toKyselyResult<R>(result);
  }

  // biome-ignore lint/correctness/useYield: streaming is not offered; the error says so.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error("postgres: streaming queries is not supported; page with limit/offset");
  }

  /** Returns the client to the pool (destroyed if it is in doubt). */
  release(): void {
    this.#client.release(this.#broken || this.#inTransaction ? true : undefined);
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  // Errors from the server carry an SQLSTATE (5 characters); others mean the socket is in doubt.
  return typeof code !== "string" || code.length !== 5 || code.startsWith("08");
}

/** A Kysely driver for one schema over the shared pool. */
export class PostgresSchemaDriver implements Driver {
  readonly schema: string;
  readonly #pool: Pool;
  readonly #options: PostgresConnectionOptions;
  readonly #init: (() => Promise<void>) | undefined;
  #destroyed = false;

  constructor(
    pool: Pool,
    schema: string,
    options: PostgresConnectionOptions & { init?: () => Promise<void> },
  ) {
    this.#pool = pool;
    this.schema = schema;
    this.#options = { lock: options.lock };
    this.#init = options.init;
  }

  async init(): Promise<void> {
    await this.#init?.();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#destroyed) throw new Error("postgres: the tenant's driver was closed");
    const client = await this.#pool.connect();
    return new PostgresSchemaConnection(client, this.schema, this.#options);
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    await (connection as PostgresSchemaConnection).begin(settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PostgresSchemaConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PostgresSchemaConnection).rollback();
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdentifier(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(
      CompiledQuery.raw(`rollback to savepoint ${quoteIdentifier(name)}`),
    );
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint ${quoteIdentifier(name)}`));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const held = connection as PostgresSchemaConnection;
    if (held.inTransaction) await held.rollback().catch(() => {});
    held.release();
  }

  async destroy(): Promise<void> {
    // The pool is shared by every tenant; the driver owns nothing else.
    this.#destroyed = true;
  }
}

/**
 * Kysely's PostgreSQL introspector, limited to the connection's own schema:
 * a tenant never learns the names of other tenants' tables.
 */
export class SchemaScopedIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<any>;
  readonly #inner: PostgresIntrospector;

  constructor(db: Kysely<any>) {
    this.#db = db;
    this.#inner = new PostgresIntrospector(db);
  }

  async #schema(): Promise<string> {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(
      this.#db,
    );
    return rows[0]?.schema ?? "";
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    return [{ name: await this.#schema() }];
  }

  async getTables(options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    const schema = await this.#schema();
    const tables = await this.#inner.getTables(options);
    return tables.filter((table) => table.schema === schema);
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}
