/**
 * The storage seam. Every backend (one SQLite file per tenant, one PostgreSQL
 * schema per tenant, ...) implements `StorageDriver`; everything above it
 * (hub, pool, migrations, server) is backend-agnostic.
 *
 * Drivers only ever see storage names produced by `storageName(key)` in
 * src/core/tenant-key.ts: never a raw tenant key.
 */
import type {
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
} from "kysely";

/** How a freshly provisioned tenant database is initialised. */
export interface TenantTemplate {
  /** Identifies the template's content (e.g. a digest of its migrations); equal ids, equal content. */
  readonly id: string;
  /** Brings an empty tenant database to the template's state; run once per id and driver. */
  init(db: Kysely<any>): Promise<void>;
}

export interface BackupResult {
  /** Where the copy was written. */
  readonly path: string;
  readonly bytes: number;
}

export interface OpenOptions {
  /**
   * The caller opens the database for one short task and nothing else in
   * this process uses it meanwhile (a fleet rollout task). A driver may then
   * lock it for the caller alone when no other process has it open, which
   * is cheaper (SQLite: no shared-memory file); otherwise it opens as usual.
   */
  exclusive?: boolean;
  /**
   * With `exclusive`: what the task commits needs to be durable only once
   * the driver's `destroy()` resolves, not at each commit. A driver may then
   * flush asynchronously in `destroy()` (SQLite: the WAL and database fsyncs
   * on libuv's thread pool), so one thread runs many short tasks whose
   * flushes overlap instead of waiting for the disk once per task.
   */
  durableOnDestroy?: boolean;
}

/** How a worker thread builds the same driver: `new (await import(module))[exportName](options)`. */
export interface WorkerDriverConfig {
  readonly module: string;
  readonly exportName: string;
  readonly options: unknown;
}

/**
 * Carries events between the processes that share one storage (several
 * servers on one PostgreSQL database). Messages are opaque strings (the
 * hub encodes and decodes them); a transport only moves them, in order.
 */
export interface EventTransport {
  /**
   * Sends messages to every listening process, this one included. With
   * `connection` (a tenant's connection whose transaction is about to
   * commit), inside that transaction: delivered when it commits, in commit
   * order, never if it rolls back; a failure fails the transaction.
   * Without, at once.
   */
  send(messages: readonly string[], connection?: DatabaseConnection): Promise<void>;
  /**
   * Starts receiving every process's messages (in the order they were sent
   * or committed); resolves once messages sent from now on will arrive (or
   * when the first attempt failed: it keeps reconnecting and reports
   * through `onError`). Called once. Messages sent while the transport was
   * not receiving (a lost connection) are delivered when it is back, if it
   * can (PostgreSQL replays them from its outbox), else `onError` says so.
   */
  listen(receive: (message: string) => void): Promise<void>;
  /** Stops listening and frees the transport's connection. */
  close(): Promise<void>;
}

export interface EventTransportOptions {
  /** Losing the connection, a failed reconnect, a message that could not be read, ... */
  onError(error: unknown, context: string): void;
}

export interface StorageDriver {
  /** "sqlite", "postgres", ... */
  readonly name: string;
  /** The SQL dialect family, for code that must emit dialect-specific SQL. */
  readonly dialect: "sqlite" | "postgres";

  /** Kysely parts shared by the catalog and every tenant. */
  createAdapter(): DialectAdapter;
  createQueryCompiler(): QueryCompiler;
  createIntrospector(db: Kysely<any>): DatabaseIntrospector;

  /** The control-plane database (catalog). Called once by the hub. */
  catalogDialect(): Dialect;

  /**
   * Creates the tenant's database from the template. Never destroys data: if
   * something already sits where the new database goes (left by a crash),
   * it is moved to the archive first.
   */
  provision(storage: string, template: TenantTemplate): Promise<void>;

  /**
   * Opens the tenant's database and returns a Kysely driver for it. The hub
   * serialises every use of one tenant (one acquire at a time), so a driver
   * may hand out a single connection.
   */
  open(storage: string, options?: OpenOptions): Promise<Driver>;

  /** Whether the tenant's database exists. */
  exists(storage: string): Promise<boolean>;

  /**
   * Moves the tenant's database (closed by the hub first) into the archive
   * under `archiveName` and removes it from live storage; returns where it went.
   */
  deprovision(storage: string, archiveName: string): Promise<string>;

  /** Bytes the tenant's database takes in storage. */
  size(storage: string): Promise<number>;

  /** Writes a consistent copy of the tenant's database to `destination` (a file path). */
  backup(storage: string, destination: string): Promise<BackupResult>;

  /**
   * Replaces the tenant's database with the copy at `source` (closed by the
   * hub first). Validates the copy before anything is replaced.
   */
  restore(storage: string, source: string): Promise<void>;

  /**
   * How worker threads can open the same storage, if they can; fleet rollouts
   * then migrate tenants on every core. Drivers whose work happens in a
   * database server (PostgreSQL) need not offer it.
   */
  workerConfig?(): WorkerDriverConfig;

  /**
   * The channel events take to other processes sharing this storage, if
   * several may (PostgreSQL); absent (or undefined, when turned off) for
   * single-process storage (SQLite). Called once per hub; `close()` closes
   * what it returned.
   */
  eventTransport?(options: EventTransportOptions): EventTransport | undefined;

  /** Releases everything the driver holds. */
  close(): Promise<void>;
}

/** A Kysely dialect built from a driver's parts and a given Kysely driver. */
export function dialectOf(storage: StorageDriver, driver: Driver): Dialect {
  return {
    createAdapter: () => storage.createAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => storage.createIntrospector(db),
    createQueryCompiler: () => storage.createQueryCompiler(),
  };
}
