/**
 * The storage driver conformance suite: everything the engine promises,
 * run against a real driver. Each driver's test file calls
 * `driverConformance(name, fixture)` with a fixture that makes fresh, empty
 * storage (a temp directory, a throwaway PostgreSQL database).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import {
  createTenantbase,
  InvalidTenantKey,
  type Migration,
  type StorageDriver,
  storageName,
  type Tenantbase,
  TenantbaseError,
  type TenantEvent,
  TenantMigrationFailed,
  TenantNotFound,
  TenantSuspended,
} from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";

export interface Storage {
  /** A new driver over this storage (call again to reopen, as a restarted process would). */
  driver(): StorageDriver;
  dispose(): Promise<void>;
}

export interface StorageFixture {
  /** Fresh, empty storage for one test. */
  fresh(): Promise<Storage>;
}

export interface NotesDB {
  notes: { id: string; body: string; tag?: string | null };
}

export const notes: Migration = {
  name: "0001_notes",
  async up(db) {
    await db.schema
      .createTable("notes")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("body", "text", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("notes").execute();
  },
};

export const addTag: Migration = {
  name: "0002_tag",
  async up(db) {
    await db.schema.alterTable("notes").addColumn("tag", "text").execute();
    // Fails on tenants holding a "poison" note, after changing the schema.
    const poison = await db
      .selectFrom("notes")
      .select("id")
      .where("body", "=", "poison")
      .executeTakeFirst();
    if (poison) throw new Error("poisoned tenant");
  },
  async down(db) {
    await db.schema.alterTable("notes").dropColumn("tag").execute();
  },
};

const broken: Migration = {
  name: "0003_broken",
  async up(db) {
    await db.schema.createTable("half_done").addColumn("x", "text").execute();
    await sql`this is not sql`.execute(db);
  },
};

async function columnsOf(db: Kysely<any>, table: string): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return (tables.find((t) => t.name === table)?.columns ?? []).map((c) => c.name);
}

async function bodies(hub: Tenantbase, key: string): Promise<string[]> {
  const t = await hub.tenant<NotesDB>(key);
  const rows = await t.db.selectFrom("notes").select("body").orderBy("id").execute();
  return rows.map((r) => r.body);
}

export function driverConformance(name: string, fixture: StorageFixture): void {
  describe(`${name} driver conformance`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function storage(): Promise<Storage> {
      const made = await fixture.fresh();
      cleanups.push(() => made.dispose());
      return made;
    }

    function hubOver(store: Storage, migrations: Migration[] = [notes]): Tenantbase {
      const hub = createTenantbase({ driver: store.driver(), migrations });
      cleanups.push(() => hub.close());
      return hub;
    }

    it("creates, gets, lists, suspends, resumes and deletes tenants", async () => {
      const hub = hubOver(await storage());
      const info = await hub.tenants.create("acme", { metadata: { plan: "pro" } });
      expect(info).toMatchObject({
        key: "acme",
        storageName: storageName("acme"),
        status: "active",
        schemaVersion: 1,
        metadata: { plan: "pro" },
      });
      await hub.tenants.create("globex");
      await expect(hub.tenants.create("acme")).rejects.toMatchObject({ code: "TENANT_EXISTS" });
      expect((await hub.tenants.list()).items.map((t) => t.key)).toEqual(["acme", "globex"]);
      expect(await hub.tenants.count()).toBe(2);
      expect(await hub.tenants.exists("acme")).toBe(true);
      expect(await hub.tenants.exists("initech")).toBe(false);
      await expect(hub.tenant("initech")).rejects.toBeInstanceOf(TenantNotFound);

      const acme = await hub.tenant<NotesDB>("acme");
      await acme.db.insertInto("notes").values({ id: "1", body: "hello" }).execute();
      expect(await hub.tenants.size("acme")).toBeGreaterThan(0);

      await hub.tenants.suspend("acme");
      await expect(hub.tenant("acme")).rejects.toBeInstanceOf(TenantSuspended);
      await expect(acme.db.selectFrom("notes").selectAll().execute()).rejects.toBeInstanceOf(
        TenantSuspended,
      );
      await hub.tenants.resume("acme");
      expect(await bodies(hub, "acme")).toEqual(["hello"]);

      const { archivePath } = await hub.tenants.delete("acme");
      expect(archivePath).toEqual(expect.any(String));
      expect(archivePath.length).toBeGreaterThan(0);
      await expect(hub.tenants.get("acme")).rejects.toBeInstanceOf(TenantNotFound);
      expect(await hub.driver.exists(storageName("acme"))).toBe(false);
      expect((await hub.tenants.list()).items.map((t) => t.key)).toEqual(["globex"]);
      // The key is free again, for a new, empty database.
      await hub.tenants.create("acme");
      expect(await bodies(hub, "acme")).toEqual([]);
      expect((await hub.tenants.list({ status: "deleted" })).items[0]?.archivePath).toBe(
        archivePath,
      );
    });

    it("rejects or isolates hostile keys, and keeps emoji and case-differing keys apart", async () => {
      const hub = hubOver(await storage());
      await hub.tenants.create("victim");
      const victim = await hub.tenant<NotesDB>("victim");
      await victim.db.insertInto("notes").values({ id: "v", body: "secret" }).execute();

      for (const key of ["\0", "a\0b", "", "x".repeat(129), "e\u0301"]) {
        await expect(hub.tenants.create(key)).rejects.toBeInstanceOf(InvalidTenantKey);
      }
      const hostile = [
        "../x",
        "..",
        "a/b",
        "../victim",
        "con",
        "default.db",
        'x"; drop schema tenantbase cascade; --',
        "🏢 Büro",
        "Victim",
        "VICTIM",
        // 128 bytes: the longest key, with the longest storage name.
        "ü".repeat(64),
      ];
      for (const key of hostile) {
        await hub.tenants.create(key);
        const t = await hub.tenant<NotesDB>(key);
        expect(await t.db.selectFrom("notes").selectAll().execute()).toEqual([]);
        await t.db
          .insertInto("notes")
          .values({ id: "1", body: `mine: ${key}` })
          .execute();
      }
      for (const key of hostile) expect(await bodies(hub, key)).toEqual([`mine: ${key}`]);
      expect(await bodies(hub, "victim")).toEqual(["secret"]);
      expect(await hub.tenants.count()).toBe(hostile.length + 1);
      expect(new Set(hostile.map(storageName)).size).toBe(hostile.length);
    });

    it("isolates tenants: rows, schema changes and introspection", async () => {
      const hub = hubOver(await storage());
      await hub.tenants.create("a");
      await hub.tenants.create("b");
      const a = await hub.tenant<NotesDB>("a");
      const b = await hub.tenant<NotesDB>("b");
      await a.db.insertInto("notes").values({ id: "1", body: "only a" }).execute();
      await sql`create table a_private (x text)`.execute(a.db);
      expect(await b.db.selectFrom("notes").selectAll().execute()).toEqual([]);
      expect((await b.db.introspection.getTables()).map((t) => t.name)).not.toContain("a_private");
      expect((await a.db.introspection.getTables()).map((t) => t.name)).toContain("a_private");
      await expect(sql`select * from a_private`.execute(b.db)).rejects.toThrow();
      // Transactions on two tenants interleave without crossing over.
      await Promise.all([
        a.transaction(async (trx) => {
          await trx.insertInto("notes").values({ id: "2", body: "a2" }).execute();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }),
        b.transaction(async (trx) => {
          await trx.insertInto("notes").values({ id: "2", body: "b2" }).execute();
        }),
      ]);
      expect(await bodies(hub, "a")).toEqual(["only a", "a2"]);
      expect(await bodies(hub, "b")).toEqual(["b2"]);
    });

    it("migrates on wake in one transaction, rolls back on failure, marks the tenant failed", async () => {
      const store = await storage();
      const v1 = hubOver(store);
      await v1.tenants.create("acme");
      await (await v1.tenant<NotesDB>("acme")).db
        .insertInto("notes")
        .values({ id: "1", body: "kept" })
        .execute();
      await v1.close();

      const bad = hubOver(store, [notes, addTag, broken]);
      const error = await bad.tenant("acme").catch((e) => e);
      expect(error).toBeInstanceOf(TenantMigrationFailed);
      expect(await bad.tenants.get("acme")).toMatchObject({ status: "failed", schemaVersion: 1 });
      await expect(bad.tenant("acme")).rejects.toBeInstanceOf(TenantMigrationFailed);
      await bad.close();

      const fixed = hubOver(store, [notes, addTag]);
      await expect(fixed.tenant("acme")).rejects.toBeInstanceOf(TenantMigrationFailed);
      await fixed.migrations.retry("acme");
      const acme = await fixed.tenant<NotesDB>("acme");
      // Nothing of the failed attempt stayed: no half_done table, tag added exactly once.
      expect((await acme.db.introspection.getTables()).map((t) => t.name)).not.toContain(
        "half_done",
      );
      expect(await columnsOf(acme.db, "notes")).toEqual(["id", "body", "tag"]);
      expect(await acme.db.selectFrom("notes").select(["body", "tag"]).execute()).toEqual([
        { body: "kept", tag: null },
      ]);
      expect(await fixed.tenants.get("acme")).toMatchObject({ status: "active", schemaVersion: 2 });
      // New tenants start at the current schema.
      await fixed.tenants.create("fresh");
      expect(await columnsOf((await fixed.tenant("fresh")).db, "notes")).toEqual([
        "id",
        "body",
        "tag",
      ]);
    });

    it("publishes events after commit and drops them on rollback", async () => {
      const hub = hubOver(await storage());
      await hub.tenants.create("alpha");
      await hub.tenants.create("beta");
      const alphaEvents: TenantEvent[] = [];
      const betaEvents: TenantEvent[] = [];
      hub.subscribe("alpha", (e) => alphaEvents.push(e));
      hub.subscribe("beta", (e) => betaEvents.push(e));
      const alpha = await hub.tenant<NotesDB>("alpha");
      let seenInside = -1;
      await alpha.transaction(async (trx) => {
        await trx.insertInto("notes").values({ id: "1", body: "one" }).execute();
        alpha.broadcast("noteAdded", { id: "1" });
        await new Promise((resolve) => setTimeout(resolve, 5));
        seenInside = alphaEvents.length;
      });
      expect(seenInside).toBe(0);
      expect(alphaEvents.map((e) => [e.tenant, e.name, e.payload])).toEqual([
        ["alpha", "noteAdded", { id: "1" }],
      ]);
      await expect(
        alpha.transaction(async (trx) => {
          await trx.insertInto("notes").values({ id: "2", body: "two" }).execute();
          alpha.broadcast("noteAdded", { id: "2" });
          throw new Error("changed my mind");
        }),
      ).rejects.toThrow("changed my mind");
      expect(alphaEvents).toHaveLength(1);
      expect(await bodies(hub, "alpha")).toEqual(["one"]);
      expect(betaEvents).toEqual([]);
    });

    it("backs up and restores one tenant, and refuses a file that is not a backup", async () => {
      const hub = hubOver(await storage());
      await hub.tenants.create("acme");
      await hub.tenants.create("other");
      const acme = await hub.tenant<NotesDB>("acme");
      await acme.db
        .insertInto("notes")
        .values([
          { id: "1", body: "first" },
          { id: "2", body: 'it\'s "quoted" \\ and ünïcode 🏢' },
        ])
        .execute();
      await (await hub.tenant<NotesDB>("other")).db
        .insertInto("notes")
        .values({ id: "1", body: "other's" })
        .execute();
      const dir = tempDir();
      const backup = await hub.tenants.backup("acme", join(dir, "acme.backup"));
      expect(backup.bytes).toBeGreaterThan(0);

      await acme.db.deleteFrom("notes").execute();
      await acme.db.insertInto("notes").values({ id: "3", body: "after backup" }).execute();
      await hub.tenants.restore("acme", backup.path);
      expect(await bodies(hub, "acme")).toEqual(["first", 'it\'s "quoted" \\ and ünïcode 🏢']);
      expect(await bodies(hub, "other")).toEqual(["other's"]);
      // Still a working, current database.
      await acme.db.insertInto("notes").values({ id: "4", body: "new" }).execute();
      expect(await hub.tenants.get("acme")).toMatchObject({ schemaVersion: 1, status: "active" });

      const garbage = join(dir, "garbage");
      writeFileSync(garbage, "this is not a backup");
      const error = await hub.tenants.restore("acme", garbage).catch((e) => e);
      expect(error).toBeInstanceOf(TenantbaseError);
      expect(error.code).toBe("RESTORE_INVALID");
      expect(await bodies(hub, "acme")).toEqual([
        "first",
        'it\'s "quoted" \\ and ünïcode 🏢',
        "new",
      ]);
    });

    it("rolls out a migration to the fleet: trial, continue on error, rollback", async () => {
      const store = await storage();
      const keys = Array.from({ length: 8 }, (_, i) => `tenant-${i}`);
      const v1 = hubOver(store);
      for (const key of keys) {
        await v1.tenants.create(key);
        const t = await v1.tenant<NotesDB>(key);
        await t.db
          .insertInto("notes")
          .values({ id: "1", body: key === "tenant-5" ? "poison" : "fine" })
          .execute();
      }
      await v1.close();

      const hub = hubOver(store, [notes, addTag]);
      const trial = await hub.migrations.run({ trial: true, onError: "continue" });
      expect(trial).toMatchObject({ kind: "trial", status: "completed" });
      expect(trial.counts).toMatchObject({ wouldMigrate: 7, wouldFail: 1, migrated: 0 });
      const wouldFail = await hub.migrations.outcomes(trial.id, { outcome: "would-fail" });
      expect(wouldFail.map((o) => o.key)).toEqual(["tenant-5"]);
      expect(wouldFail[0]?.error).toMatch(/poisoned/);
      // The trial changed nothing (read through a hub that does not migrate on wake).
      const reader = hubOver(store);
      expect(await columnsOf((await reader.tenant("tenant-0")).db, "notes")).toEqual([
        "id",
        "body",
      ]);
      await reader.close();

      const run = await hub.migrations.run({ onError: "continue", concurrency: 3 });
      expect(run.counts).toMatchObject({ total: 8, migrated: 7, failed: 1 });
      expect((await hub.tenants.get("tenant-0")).schemaVersion).toBe(2);
      expect((await hub.tenants.get("tenant-5")).schemaVersion).toBe(1);
      expect(await columnsOf((await hub.tenant("tenant-0")).db, "notes")).toEqual([
        "id",
        "body",
        "tag",
      ]);

      const rollback = await hub.migrations.rollback(run.id);
      expect(rollback).toMatchObject({ kind: "rollback", status: "completed" });
      expect(rollback.counts.rolledBack).toBe(7);
      for (const key of keys) {
        expect((await hub.tenants.get(key)).schemaVersion).toBe(1);
      }
      // Held at v1 by the rollback: waking does not migrate again.
      expect(await columnsOf((await hub.tenant("tenant-0")).db, "notes")).toEqual(["id", "body"]);
      expect(await bodies(hub, "tenant-0")).toEqual(["fine"]);
    });
  });
}
