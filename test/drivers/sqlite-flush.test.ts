/**
 * Rollout tasks open tenants with `durableOnDestroy`: commits go to the WAL
 * without fsync, and destroy() makes them durable (WAL, directory, checkpoint,
 * database) before it resolves.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { CompiledQuery, Kysely, sql } from "kysely";
import { describe, expect, it } from "vitest";
import { dialectOf } from "../../src/drivers/driver.js";
import { DirectoryFlush } from "../../src/drivers/sqlite/flush.js";
import { sqlite } from "../../src/drivers/sqlite/index.js";
import { tempDir } from "../helpers/temp.js";

function setup() {
  const driver = sqlite({ dir: join(tempDir(), "data") });
  const path = driver.pathOf("t1");
  const db = new BetterSqlite3(path);
  db.pragma("journal_mode = WAL");
  db.exec("create table notes (id integer primary key, body text)");
  db.close();
  return { driver, path };
}

function rows(path: string, timeout = 5000): string[] {
  const db = new BetterSqlite3(path, { readonly: true, timeout });
  try {
    return (db.prepare("select body from notes order by id").all() as Array<{ body: string }>).map(
      (r) => r.body,
    );
  } finally {
    db.close();
  }
}

describe("sqlite: durable on destroy", () => {
  it("commits without the WAL's own fsyncs, then checkpoints and closes in destroy()", async () => {
    const { driver, path } = setup();
    const opened = await driver.open("t1", { exclusive: true, durableOnDestroy: true });
    const db = new Kysely<any>({ dialect: dialectOf(driver, opened) });
    await db.transaction().execute(async (trx) => {
      await trx.insertInto("notes").values({ body: "a" }).execute();
      await trx.insertInto("notes").values({ body: "b" }).execute();
    });
    const pragmas = await db.executeQuery<{ synchronous: number }>(
      CompiledQuery.raw("pragma synchronous"),
    );
    expect(pragmas.rows[0]?.synchronous).toBe(0);
    // Committed into the WAL, held exclusively: no -shm, nobody else can read it yet.
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(existsSync(`${path}-shm`)).toBe(false);
    expect(() => rows(path, 0)).toThrow(/locked/);
    await opened.destroy();
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(rows(path)).toEqual(["a", "b"]);
    const check = new BetterSqlite3(path);
    expect(check.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(check.pragma("integrity_check", { simple: true })).toBe("ok");
    check.close();
  });

  it("rolls back a transaction still open at destroy(), and closes a task that wrote nothing", async () => {
    const { driver, path } = setup();
    const opened = await driver.open("t1", { exclusive: true, durableOnDestroy: true });
    const db = new Kysely<any>({ dialect: dialectOf(driver, opened) });
    const connection = await opened.acquireConnection();
    await opened.beginTransaction(connection, {});
    await db.insertInto("notes").values({ body: "never" }).execute();
    await opened.destroy();
    expect(rows(path)).toEqual([]);

    const idle = await driver.open("t1", { exclusive: true, durableOnDestroy: true });
    const read = new Kysely<any>({ dialect: dialectOf(driver, idle) });
    expect(await read.selectFrom("notes").selectAll().execute()).toEqual([]);
    await idle.destroy();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("opens as usual, with SQLite's own durability, when another connection has the file open", async () => {
    const { driver, path } = setup();
    const other = new BetterSqlite3(path);
    other.pragma("journal_mode = WAL");
    other.prepare("select count(*) from notes").get();
    try {
      const opened = await driver.open("t1", { exclusive: true, durableOnDestroy: true });
      const db = new Kysely<any>({ dialect: dialectOf(driver, opened) });
      const { rows: sync } = await sql<{
        synchronous: number;
      }>`pragma synchronous`.execute(db);
      expect(sync[0]?.synchronous).toBe(1); // NORMAL, the driver's default
      await db.insertInto("notes").values({ body: "shared" }).execute();
      // The other connection sees the commit at once: it was not held back.
      expect(other.prepare("select body from notes").pluck().all()).toEqual(["shared"]);
      await opened.destroy();
    } finally {
      other.close();
    }
    expect(rows(path)).toEqual(["shared"]);
  });
});

describe("DirectoryFlush", () => {
  it("serves concurrent callers with shared flushes, and works again after close()", async () => {
    const flush = new DirectoryFlush(tempDir());
    await Promise.all(Array.from({ length: 50 }, () => flush.flush()));
    flush.close();
    await flush.flush();
    flush.close();
  });

  it("rejects when the directory cannot be flushed", async () => {
    const flush = new DirectoryFlush(join(tempDir(), "missing"));
    await expect(flush.flush()).rejects.toThrow(/ENOENT/);
  });
});
