import { existsSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  InvalidArgument,
  TenantbaseError,
  TenantExists,
  TenantNotFound,
  TenantSuspended,
} from "../../src/index.js";
import { type NotesDB, testHub } from "../helpers/hub.js";
import { tempDir } from "../helpers/temp.js";

describe("tenant lifecycle", () => {
  it("creates, gets, updates and counts tenants", async () => {
    const { hub } = testHub();
    const info = await hub.tenants.create("Acme Co", { metadata: { plan: "pro" } });
    expect(info).toMatchObject({
      key: "Acme Co",
      status: "active",
      schemaVersion: 1,
      metadata: { plan: "pro" },
    });
    expect(info.createdAt).toBeInstanceOf(Date);
    await expect(hub.tenants.create("Acme Co")).rejects.toThrow(TenantExists);
    expect((await hub.tenants.get("Acme Co")).metadata).toEqual({ plan: "pro" });
    expect(await hub.tenants.exists("Acme Co")).toBe(true);
    expect(await hub.tenants.exists("Nope")).toBe(false);
    await expect(hub.tenants.get("Nope")).rejects.toThrow(TenantNotFound);
    await expect(hub.tenant("Nope")).rejects.toThrow(TenantNotFound);
    const updated = await hub.tenants.update("Acme Co", { metadata: { plan: "free" } });
    expect(updated.metadata).toEqual({ plan: "free" });
    await expect(hub.tenants.create("bad", { metadata: [] as any })).rejects.toThrow(
      InvalidArgument,
    );
    await expect(
      hub.tenants.create("bad", { metadata: { big: "x".repeat(70_000) } }),
    ).rejects.toThrow(InvalidArgument);
    expect(await hub.tenants.exists("bad")).toBe(false);
    expect(await hub.tenants.count()).toBe(1);
    await hub.close();
  });

  it("creates a missing tenant only when asked", async () => {
    const { hub } = testHub();
    const t = await hub.tenant<NotesDB>("new co", {
      createIfMissing: { metadata: { source: "signup" } },
    });
    await t.db.insertInto("notes").values({ body: "hello" }).execute();
    expect((await hub.tenants.get("new co")).metadata).toEqual({ source: "signup" });
    // Concurrent first requests create it once.
    const handles = await Promise.all(
      Array.from({ length: 20 }, () => hub.tenant("racy", { createIfMissing: true })),
    );
    expect(new Set(handles.map((h) => h.key))).toEqual(new Set(["racy"]));
    expect(await hub.tenants.count()).toBe(2);
    await hub.close();
  });

  it("lists with cursor pagination and a status filter", async () => {
    const { hub } = testHub();
    const keys = Array.from({ length: 2500 }, (_, i) => `t${String(i).padStart(5, "0")}`);
    for (const key of keys) await hub.tenants.create(key);
    await hub.tenants.suspend("t00007");
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await hub.tenants.list({ limit: 1000, cursor });
      seen.push(...page.items.map((t) => t.key));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(keys);
    const suspended = await hub.tenants.list({ status: "suspended" });
    expect(suspended.items.map((t) => t.key)).toEqual(["t00007"]);
    expect(suspended.nextCursor).toBeNull();
    await expect(hub.tenants.list({ limit: 0 })).rejects.toThrow(InvalidArgument);
    await expect(hub.tenants.list({ cursor: "garbage" })).rejects.toThrow(InvalidArgument);
    await expect(hub.tenants.list({ status: "weird" as any })).rejects.toThrow(InvalidArgument);
    await hub.close();
  });

  it("deletes into the archive, keeps a final copy, and lets the key be created again empty", async () => {
    const { hub, dir } = testHub();
    await hub.tenants.create("Acme Co");
    const acme = await hub.tenant<NotesDB>("Acme Co");
    await acme.db.insertInto("notes").values({ body: "last words" }).execute();
    const { archivePath } = await hub.tenants.delete("Acme Co");
    expect(archivePath.startsWith(join(dir, "archive"))).toBe(true);
    const archived = new BetterSqlite3(archivePath, { readonly: true });
    expect(archived.prepare("select body from notes").all()).toEqual([{ body: "last words" }]);
    archived.close();
    expect(await hub.tenants.exists("Acme Co")).toBe(false);
    await expect(hub.tenant("Acme Co")).rejects.toThrow(TenantNotFound);
    // The old handle cannot reach it either.
    await expect(acme.db.selectFrom("notes").selectAll().execute()).rejects.toThrow(TenantNotFound);
    const deleted = await hub.tenants.list({ status: "deleted" });
    expect(deleted.items.map((t) => [t.key, t.archivePath])).toEqual([["Acme Co", archivePath]]);

    await hub.tenants.create("Acme Co");
    const again = await hub.tenant<NotesDB>("Acme Co");
    expect(await again.db.selectFrom("notes").selectAll().execute()).toEqual([]);
    await hub.tenants.delete("Acme Co");
    expect((await hub.tenants.list({ status: "deleted" })).items.length).toBe(2);
    await expect(hub.tenants.delete("Acme Co")).rejects.toThrow(TenantNotFound);
    await hub.close();
  });

  it("waits for in-flight work before deleting", async () => {
    const { hub } = testHub();
    await hub.tenants.create("busy");
    const t = await hub.tenant<NotesDB>("busy");
    let finish!: () => void;
    const tx = t.transaction(async (trx) => {
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      await trx.insertInto("notes").values({ body: "committed before delete" }).execute();
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const deleting = hub.tenants.delete("busy");
    await new Promise((resolve) => setTimeout(resolve, 10));
    finish();
    await tx;
    const { archivePath } = await deleting;
    const archived = new BetterSqlite3(archivePath, { readonly: true });
    expect(archived.prepare("select body from notes").all()).toEqual([
      { body: "committed before delete" },
    ]);
    archived.close();
    await hub.close();
  });

  it("suspends and resumes", async () => {
    const { hub } = testHub();
    await hub.tenants.create("s");
    const s = await hub.tenant<NotesDB>("s");
    await s.db.insertInto("notes").values({ body: "kept" }).execute();
    await hub.tenants.suspend("s");
    expect((await hub.tenants.get("s")).status).toBe("suspended");
    await expect(hub.tenant("s")).rejects.toThrow(TenantSuspended);
    await expect(s.db.selectFrom("notes").selectAll().execute()).rejects.toThrow(TenantSuspended);
    await hub.tenants.resume("s");
    expect(await s.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "kept" }]);
    await hub.close();
  });

  it("backs up and restores one tenant", async () => {
    const { hub } = testHub();
    await hub.tenants.create("b");
    const b = await hub.tenant<NotesDB>("b");
    await b.db.insertInto("notes").values({ body: "v1" }).execute();
    const backupPath = join(tempDir(), "b.db");
    const result = await hub.tenants.backup("b", backupPath);
    expect(result.bytes).toBeGreaterThan(0);
    expect(await hub.tenants.size("b")).toBeGreaterThan(0);
    await b.db.updateTable("notes").set({ body: "v2" }).execute();
    await hub.tenants.restore("b", backupPath);
    expect(await b.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "v1" }]);
    // A file that is not a database is refused and changes nothing.
    const junk = join(tempDir(), "junk.db");
    await import("node:fs").then((fs) =>
      fs.writeFileSync(junk, "not a database at all".repeat(100)),
    );
    const error = await hub.tenants.restore("b", junk).catch((e) => e);
    expect(error).toBeInstanceOf(TenantbaseError);
    expect(error.code).toBe("RESTORE_INVALID");
    expect(await b.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "v1" }]);
    expect(existsSync(junk)).toBe(true);
    await hub.close();
  });

  it("survives a restart with everything in place", async () => {
    const dir = join(tempDir(), "data");
    const { createTenantbase, sqlite } = await import("../../src/index.js");
    const { notesMigration } = await import("../helpers/hub.js");
    const first = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    await first.tenants.create("persist");
    await (await first.tenant<NotesDB>("persist")).db
      .insertInto("notes")
      .values({ body: "x" })
      .execute();
    await first.close();
    const second = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    const info = await second.tenants.get("persist");
    expect(info.lastActiveAt).toBeInstanceOf(Date);
    expect(
      await (await second.tenant<NotesDB>("persist")).db
        .selectFrom("notes")
        .select("body")
        .execute(),
    ).toEqual([{ body: "x" }]);
    await second.close();
  });
});
