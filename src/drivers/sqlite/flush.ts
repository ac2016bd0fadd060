/**
 * Asynchronous flushes for rollout tasks (`open(…, { durableOnDestroy })`).
 * The fsyncs run on libuv's thread pool, so one thread keeps many tenants'
 * flushes in flight and the disk merges them, instead of one blocking fsync
 * pair per tenant inside SQLite's checkpoint.
 */
import { closeSync, fdatasync, fstatSync, fsync, openSync } from "node:fs";
import type { Database } from "better-sqlite3";

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fdatasync(fd, (error) => (error ? reject(error) : resolve())),
  );
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fsync(fd, (error) => (error ? reject(error) : resolve())),
  );
}

/**
 * fsync of one directory, shared by every caller whose entry was created
 * before it started: a caller arriving during a flush waits for the next one.
 */
export class DirectoryFlush {
  readonly #path: string;
  #fd: number | undefined;
  #current: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  flush(): Promise<void> {
    if (process.platform === "win32") return Promise.resolve(); // directories cannot be fsynced there
    if (this.#next) return this.#next;
    if (!this.#current) {
      this.#current = this.#start();
      return this.#current;
    }
    this.#next = this.#current
      .catch(() => {})
      .then(() => {
        this.#next = undefined;
        this.#current = this.#start();
        return this.#current;
      });
    return this.#next;
  }

  #start(): Promise<void> {
    let flushed: Promise<void>;
    try {
      this.#fd ??= openSync(this.#path, "r");
      flushed = fsyncAsync(this.#fd);
    } catch (error) {
      flushed = Promise.reject(error);
    }
    return flushed.finally(() => {
      this.#current = undefined;
    });
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * Makes what a connection opened with synchronous=OFF, EXCLUSIVE locking and
 * no automatic checkpoints committed durable, then closes it. The order is
 * SQLite's own WAL protocol: the WAL (and its directory entry) on disk
 * before any of it is copied into the database, and the database on disk
 * before the WAL is deleted on close. A crash anywhere leaves the commits
 * either in a complete WAL or in the database.
 *
 * `fd` is the caller's own descriptor of the database file, opened before
 * SQLite's and closed after it: closing any descriptor of a file drops every
 * POSIX lock this process holds on it.
 */
export async function flushAndClose(
  db: Database,
  path: string,
  fd: number,
  directory: DirectoryFlush,
): Promise<void> {
  let flushed = false;
  try {
    if (db.inTransaction) db.exec("rollback");
    let walFd: number | undefined;
    try {
      walFd = openSync(`${path}-wal`, "r+");
    } catch (error) {
      // No WAL: nothing was written.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (walFd !== undefined) {
      try {
        if (fstatSync(walFd).size > 0) {
          await fdatasyncAsync(walFd);
          await directory.flush();
          const [result] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{
            busy: number;
            log: number;
            checkpointed: number;
          }>;
          if (result?.busy !== 0 || result.checkpointed !== result.log) {
            throw new Error("sqlite: the WAL could not be checkpointed before closing");
          }
          await fdatasyncAsync(fd);
        }
      } finally {
        closeSync(walFd);
      }
    }
    flushed = true;
  } finally {
    // On a failed flush, the close's own checkpoint syncs as SQLite normally would.
    try {
      if (!flushed) db.pragma("synchronous = FULL");
      db.close();
    } finally {
      closeSync(fd);
    }
  }
}
