/**
 * One SQLite file per tenant under `<dir>/tenants/`, the catalog in
 * `<dir>/catalog.db`, archived databases in `<dir>/archive/`, provisioning
 * templates in `<dir>/templates/`.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  constants as fsConstants,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  Kysely,
  type QueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import {
  type BackupResult,
  dialectOf,
  type OpenOptions,
  type StorageDriver,
  type TenantTemplate,
  type WorkerDriverConfig,
} from "../driver.js";
import { SqliteConnectionDriver } from "./connection.js";
import { DirectoryFlush, flushAndClose } from "./flush.js";

export interface SqliteDriverOptions {
  /** The data directory. Default `./data`. */
  dir?: string;
  /**
   * Durability of a commit. "normal" (default): WAL with synchronous=NORMAL,
   * every acknowledged commit survives a crash of the process (kill -9); the
   * last commits before a power loss or OS crash may be lost, never corrupted.
   * "full": synchronous=FULL, commits also survive power loss, at the cost of
   * an fsync per commit.
   */
  synchronous?: "normal" | "full";
  /** Page cache per open tenant, in KiB. Default 1024. */
  cacheSizeKiB?: number;
  /** How long SQLite waits for a lock held by another process. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Prepared statements cached per open tenant. Default 100. */
  statementCacheSize?: number;
}

const SUFFIXES = ["", "-wal", "-shm", "-journal"] as const;

export class SqliteStorageDriver implements StorageDriver {
  readonly name = "sqlite";
  readonly dialect = "sqlite" as const;
  readonly dir: string;
  readonly #options: Required<Omit<SqliteDriverOptions, "dir">>;
  readonly #templates = new Map<string, Promise<string>>();
  readonly #tenantsDirectory: DirectoryFlush;
  readonly #pragmas: string;

  constructor(options: SqliteDriverOptions = {}) {
    this.dir = resolve(options.dir ?? "./data");
    this.#options = {
      synchronous: options.synchronous ?? "normal",
      cacheSizeKiB: options.cacheSizeKiB ?? 1024,
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      statementCacheSize: options.statementCacheSize ?? 100,
    };
    if (!["normal", "full"].includes(this.#options.synchronous)) {
      throw new Error(`sqlite: synchronous must be "normal" or "full"`);
    }
    this.#pragmas = [
      "pragma journal_mode = WAL",
      `pragma synchronous = ${this.#options.synchronous === "full" ? "FULL" : "NORMAL"}`,
      `pragma busy_timeout = ${Math.trunc(this.#options.busyTimeoutMs)}`,
      "pragma foreign_keys = ON",
      `pragma cache_size = -${Math.trunc(this.#options.cacheSizeKiB)}`,
    ].join("; ");
    for (const sub of ["tenants", "archive", "templates"]) {
      mkdirSync(join(this.dir, sub), { recursive: true });
    }
    this.#tenantsDirectory = new DirectoryFlush(join(this.dir, "tenants"));
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }

  /** The file of a tenant's database. */
  pathOf(storage: string): string {
    // Storage names are [a-z0-9_-] by construction (src/core/tenant-key.ts);
    // checking again here keeps this function safe on its own.
    if (!/^[a-z0-9_-]{1,240}$/.test(storage)) throw new Error(`sqlite: unsafe storage name`);
    return join(this.dir, "tenants", `${storage}.db`);
  }

  #configure(db: Database): void {
    // One exec for every pragma: each db.pragma() call prepares a statement of its own.
    db.exec(this.#pragmas);
  }

  catalogDialect(): Dialect {
    const db = new BetterSqlite3(join(this.dir, "catalog.db"));
    this.#configure(db);
    return dialectOf(
      this,
      new SqliteConnectionDriver(db, {
        serialize: true,
        statementCacheSize: this.#options.statementCacheSize,
      }),
    );
  }

  async #template(template: TenantTemplate): Promise<string> {
    let ready = this.#templates.get(template.id);
    if (!ready) {
      ready = this.#buildTemplate(template);
      this.#templates.set(template.id, ready);
      ready.catch(() => this.#templates.delete(template.id));
    }
    return ready;
  }

  async #buildTemplate(template: TenantTemplate): Promise<string> {
    // Template ids are chosen by callers; hash them into a safe file name.
    const name = createHash("sha256").update(template.id).digest("hex").slice(0, 32);
    const path = join(this.dir, "templates", `${name}.db`);
    if (existsSync(path)) return path;
    const building = `${path}.building-${process.pid}`;
    for (const suffix of SUFFIXES) rmSync(building + suffix, { force: true });
    const db = new BetterSqlite3(building);
    try {
      this.#configure(db);
      const kysely = new Kysely<any>({ dialect: dialectOf(this, new SqliteConnectionDriver(db)) });
      await template.init(kysely);
      db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
    for (const suffix of SUFFIXES.slice(1)) rmSync(building + suffix, { force: true });
    renameSync(building, path);
    return path;
  }

  async provision(storage: string, template: TenantTemplate): Promise<void> {
    const path = this.pathOf(storage);
    const source = await this.#template(template);
    if (SUFFIXES.some((suffix) => existsSync(path + suffix))) {
      await this.deprovision(storage, `orphan-${storage}-${Date.now()}`);
    }
    const temporary = `${path}.provisioning`;
    copyFileSync(source, temporary, fsConstants.COPYFILE_FICLONE);
    if (this.#options.synchronous === "full") fsyncPath(temporary);
    renameSync(temporary, path);
    if (this.#options.synchronous === "full") fsyncPath(join(this.dir, "tenants"));
  }

  async open(storage: string, options: OpenOptions = {}): Promise<Driver> {
    const path = this.pathOf(storage);
    if (options.exclusive && options.durableOnDestroy) {
      const deferred = this.#openDeferred(path);
      if (deferred) return deferred;
    }
    const db =
      (options.exclusive ? this.#openExclusive(path) : undefined) ??
      new BetterSqlite3(path, { fileMustExist: true });
    try {
      this.#configure(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new SqliteConnectionDriver(db, { statementCacheSize: this.#options.statementCacheSize });
  }

  /**
   * Exclusive, with synchronous=OFF and no automatic checkpoint: its commits
   * are made durable by `flushAndClose` when the caller destroys the driver.
   * Undefined when another connection has the file open.
   */
  #openDeferred(path: string): Driver | undefined {
    // Opened before SQLite's and closed after it (see flushAndClose).
    const fd = openSync(path, "r+");
    let db: Database | undefined;
    try {
      db = this.#openExclusive(path);
      if (!db) {
        closeSync(fd);
        return undefined;
      }
      this.#configure(db);
      db.exec("pragma synchronous = OFF; pragma wal_autocheckpoint = 0");
    } catch (error) {
      db?.close();
      closeSync(fd);
      throw error;
    }
    return new SqliteConnectionDriver(db, {
      statementCacheSize: this.#options.statementCacheSize,
      close: (database) => flushAndClose(database, path, fd, this.#tenantsDirectory),
    });
  }

  /**
   * WAL with EXCLUSIVE locking keeps the WAL index in memory instead of a
   * `-shm` file that is created, mapped and deleted on every open: about twice
   * as fast for one short task. Only possible when no other connection has the
   * database open; then (SQLITE_BUSY at once) the caller opens it as usual.
   */
  #openExclusive(path: string): Database | undefined {
    const db = new BetterSqlite3(path, { fileMustExist: true });
    try {
      // The first read takes the lock (and fails now if anyone else has the file open).
      db.exec("pragma busy_timeout = 0; pragma locking_mode = EXCLUSIVE; pragma schema_version");
      return db;
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code?.startsWith("SQLITE_BUSY")) return undefined;
      throw error;
    }
  }

  async exists(storage: string): Promise<boolean> {
    return existsSync(this.pathOf(storage));
  }

  async deprovision(storage: string, archiveName: string): Promise<string> {
    const path = this.pathOf(storage);
    const archived = join(this.dir, "archive", `${safeArchiveName(archiveName)}.db`);
    if (!existsSync(path)) {
      for (const suffix of SUFFIXES) rmSync(path + suffix, { force: true });
      return archived;
    }
    // Fold a WAL left by a crash into the file so the archive is one complete file.
    if (existsSync(`${path}-wal`)) {
      const db = new BetterSqlite3(path, { fileMustExist: true });
      try {
        db.pragma("wal_checkpoint(TRUNCATE)");
        db.pragma("journal_mode = DELETE");
      } finally {
        db.close();
      }
    }
    renameSync(path, archived);
    for (const suffix of SUFFIXES.slice(1)) rmSync(path + suffix, { force: true });
    return archived;
  }

  async size(storage: string): Promise<number> {
    const path = this.pathOf(storage);
    let bytes = 0;
    for (const suffix of ["", "-wal"]) {
      try {
        bytes += statSync(path + suffix).size;
      } catch {
        // A missing WAL is normal for a closed database.
      }
    }
    return bytes;
  }

  async backup(storage: string, destination: string): Promise<BackupResult> {
    const db = new BetterSqlite3(this.pathOf(storage), { fileMustExist: true });
    try {
      db.pragma(`busy_timeout = ${Math.trunc(this.#options.busyTimeoutMs)}`);
      await db.backup(destination);
    } finally {
      db.close();
    }
    return { path: destination, bytes: statSync(destination).size };
  }

  async restore(storage: string, source: string): Promise<void> {
    assertSqliteDatabase(source);
    const path = this.pathOf(storage);
    const temporary = `${path}.restoring`;
    copyFileSync(source, temporary);
    for (const suffix of SUFFIXES.slice(1)) rmSync(path + suffix, { force: true });
    renameSync(temporary, path);
    const db = new BetterSqlite3(path, { fileMustExist: true });
    try {
      this.#configure(db);
    } finally {
      db.close();
    }
  }

  workerConfig(): WorkerDriverConfig {
    return {
      module: import.meta.url,
      exportName: "SqliteStorageDriver",
      options: { dir: this.dir, ...this.#options },
    };
  }

  async close(): Promise<void> {
    this.#tenantsDirectory.close();
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function safeArchiveName(name: string): string {
  if (!/^[A-Za-z0-9._-]{1,250}$/.test(name) || name.includes("..")) {
    throw new Error("sqlite: unsafe archive name");
  }
  return name;
}

/** Throws unless `path` is a readable, intact SQLite database. */
function assertSqliteDatabase(path: string): void {
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    const result = db.pragma("quick_check", { simple: true });
    if (result !== "ok") throw new Error(`integrity check failed: ${String(result)}`);
  } catch (error) {
    throw new Error(`not a valid SQLite database: ${(error as Error).message}`, { cause: error });
  } finally {
    db?.close();
  }
}
