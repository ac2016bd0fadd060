/**
 * A Kysely driver over one better-sqlite3 database. Unlike Kysely's own
 * SqliteDriver it caches prepared statements (preparing costs more than
 * running a point query), converts booleans and dates to values SQLite
 * stores, and opens write transactions with BEGIN IMMEDIATE so a second
 * process never turns a read lock into SQLITE_BUSY halfway through.
 */
import type { Database, Statement } from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  SelectQueryNode,
  type TransactionSettings,
} from "kysely";
import { Mutex } from "../../tools/mutex.js";

export interface SqliteConnectionOptions {
  /** Prepared statements kept per database (oldest dropped first). */
  statementCacheSize?: number;
  /**
   * Serialise acquireConnection with a mutex. The hub already runs one
   * operation at a time per tenant, so only the catalog needs this.
   */
  serialize?: boolean;
  /** Closes the database in `destroy()` instead of a plain close (e.g. flushing first). */
  close?: (db: Database) => Promise<void>;
}

function toSqliteValue(value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value;
}

function toSqliteParameters(parameters: readonly unknown[]): unknown[] {
  let converted: unknown[] | undefined;
  for (let i = 0; i < parameters.length; i++) {
    const value = parameters[i];
    if (typeof value === "boolean" || value instanceof Date) {
      converted ??= parameters.slice();
      converted[i] = toSqliteValue(value);
    }
  }
  return converted ?? (parameters as unknown[]);
}

export class SqliteConnection implements DatabaseConnection {
  readonly #db: Database;
  readonly #statements = new Map<string, Statement>();
  readonly #maxStatements: number;

  constructor(db: Database, maxStatements: number) {
    this.#db = db;
    this.#maxStatements = maxStatements;
  }

  get database(): Database {
    return this.#db;
  }

  #prepare(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= this.#maxStatements) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs a query synchronously (the engine's fast path; Kysely uses the async form). */
  executeSync<R>(compiledQuery: CompiledQuery): QueryResult<R> {
    let statement: Statement;
    try {
      statement = this.#prepare(compiledQuery.sql);
    } catch (error) {
      // Raw SQL without parameters may be a script of several statements (migration files).
      if (error instanceof RangeError && compiledQuery.parameters.length === 0) {
        this.#db.exec(compiledQuery.sql);
        return { rows: [] };
      }
      throw error;
    }
    const parameters = toSqliteParameters(compiledQuery.parameters);
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return {
      rows: [],
      numAffectedRows: BigInt(changes),
      insertId: BigInt(lastInsertRowid),
    };
  }

  executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return Promise.resolve(this.executeSync<R>(compiledQuery));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async *streamQuery<R>(
    compiledQuery: CompiledQuery,
    chunkSize = 100,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!SelectQueryNode.is(compiledQuery.query)) {
      throw new Error("SQLite can only stream SELECT queries");
    }
    const statement = this.#prepare(compiledQuery.sql);
    const iterator = statement.iterate(
      toSqliteParameters(compiledQuery.parameters),
    ) as IterableIterator<R>;
    let chunk: R[] = [];
    for (const row of iterator) {
      chunk.push(row);
      if (chunk.length >= chunkSize) {
        yield { rows: chunk };
        chunk = [];
      }
    }
    if (chunk.length > 0) yield { rows: chunk };
  }

  /** Drops cached statements; needed before a schema change invalidates them wholesale. */
  clearStatements(): void {
    this.#statements.clear();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class SqliteConnectionDriver implements Driver {
  readonly connection: SqliteConnection;
  readonly #db: Database;
  readonly #mutex: Mutex | undefined;
  readonly #close: ((db: Database) => Promise<void>) | undefined;

  constructor(db: Database, options: SqliteConnectionOptions = {}) {
    this.#db = db;
    this.connection = new SqliteConnection(db, options.statementCacheSize ?? 100);
    this.#mutex = options.serialize ? new Mutex() : undefined;
    this.#close = options.close;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#mutex) await this.#mutex.lock();
    return this.connection;
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    const begin = settings.accessMode === "read only" ? "begin deferred" : "begin immediate";
    await connection.executeQuery(CompiledQuery.raw(begin));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // A failed COMMIT or a constraint error may already have ended the transaction.
    if (this.#db.inTransaction) await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${quoteIdentifier(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${quoteIdentifier(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${quoteIdentifier(name)}`));
  }

  async releaseConnection(): Promise<void> {
    this.#mutex?.unlock();
  }

  async destroy(): Promise<void> {
    if (!this.#db.open) return;
    if (this.#close) await this.#close(this.#db);
    else this.#db.close();
  }
}
