/**
 * One thread of the raw fleet baseline (raw-fleet.ts): runs a script on each
 * of its files with `inFlight` at once, each made durable in the order a
 * Tenantbase rollout task uses, then reports how many it did.
 */
import { closeSync, fdatasync, fsync, openSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";

export interface RawFleetWork {
  files: string[];
  script: string;
  directory: string;
  inFlight: number;
}

const work = workerData as RawFleetWork;

function flushFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) =>
    fdatasync(fd, (error) => (error ? reject(error) : resolve())),
  );
}

// One directory fsync at a time; a caller arriving during one waits for the next.
const directoryFd = openSync(work.directory, "r");
let current: Promise<void> | undefined;
let next: Promise<void> | undefined;
function flushDirectory(): Promise<void> {
  if (next) return next;
  if (!current) {
    current = new Promise<void>((resolve, reject) =>
      fsync(directoryFd, (error) => (error ? reject(error) : resolve())),
    ).finally(() => {
      current = undefined;
    });
    return current;
  }
  next = current.then(() => {
    next = undefined;
    return flushDirectory();
  });
  return next;
}

async function migrate(path: string): Promise<void> {
  const fd = openSync(path, "r+"); // kept open until after SQLite's close (its locks)
  const db = new BetterSqlite3(path, { fileMustExist: true });
  try {
    db.exec(
      "pragma locking_mode = EXCLUSIVE; pragma synchronous = OFF; pragma wal_autocheckpoint = 0",
    );
    db.exec(work.script);
    const wal = openSync(`${path}-wal`, "r+");
    try {
      await flushFile(wal);
      await flushDirectory();
      db.pragma("wal_checkpoint(PASSIVE)");
      await flushFile(fd);
    } finally {
      closeSync(wal);
    }
  } finally {
    db.close();
    closeSync(fd);
  }
}

let taken = 0;
async function lane(): Promise<void> {
  while (taken < work.files.length) await migrate(work.files[taken++]!);
}

Promise.all(Array.from({ length: work.inFlight }, lane)).then(
  () => parentPort!.postMessage({ done: work.files.length }),
  (error: Error) => parentPort!.postMessage({ error: error.message }),
);
