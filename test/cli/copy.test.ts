/**
 * `tenantbase copy`: real SQLite files in a temp dir copied into a real,
 * throwaway PostgreSQL database; verification, re-runs, hostile keys and a
 * tenant behind on migrations.
 */
import { join } from "node:path";
import type { Kysely } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { copyDeployment } from "../../src/collections/copy.js";
import { attachCollections, SUPERUSER } from "../../src/collections/index.js";
import { canonicalValue, verifyTenant } from "../../src/core/copy.js";
import { postgres } from "../../src/drivers/postgres/index.js";
import { createTenantbase, sqlite, type Tenantbase } from "../../src/index.js";
import { cli } from "../helpers/cli.js";
import { type ThrowawayDatabase, throwawayDatabaseAt } from "../helpers/postgres.js";
import { tempDir } from "../helpers/temp.js";
import { companyMigrations, migrations } from "./fixtures/copy-definition.js";

const APP = join(import.meta.dirname, "fixtures", "copy-definition.ts");
const PG_URL = process.env.TENANTBASE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const HOSTILE = [
  `Robert'); DROP TABLE employees;--`,
  `"quoted" \\ back\`tick`,
  "../../etc/passwd",
  "Ünïcødé 🎉 会社",
  "k".repeat(128),
  "acme co", // differs from "Acme Co" by case only
];
const ACME = "Acme Co";
const SUSPENDED = "Suspended Inc";
const BEHIND = "behind";

const databases: ThrowawayDatabase[] = [];
const hubs: Tenantbase[] = [];

afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close().catch(() => {});
  for (const db of databases.splice(0)) await db.drop();
});

async function pgDatabase(): Promise<string> {
  const db = await throwawayDatabaseAt(PG_URL, "tb_test");
  databases.push(db);
  return db.url;
}

function pgHub(url: string): Tenantbase {
  const hub = createTenantbase({
    driver: postgres({ url, max: 4, spares: 0, events: false }),
    migrations,
  });
  hubs.push(hub);
  return hub;
}

function sqliteHub(dir: string, list = migrations): Tenantbase {
  const hub = createTenantbase({ driver: sqlite({ dir }), migrations: list });
  hubs.push(hub);
  return hub;
}

const NOW = "2024-05-01T10:00:00.000Z";

async function addCompany(hub: Tenantbase, key: string, names: string[]): Promise<void> {
  const t = await hub.tenant(key);
  await t.db
    .insertInto("employees")
    .values(names.map((name, i) => ({ id: i + 1, name, role: "dev", created_at: NOW })))
    .execute();
}

/** A SQLite data directory with every kind of tenant the copy must handle. */
async function seed(): Promise<string> {
  const dir = join(tempDir(), "data");
  // A tenant created by an older version of the app: behind on migrations.
  const old = sqliteHub(dir, companyMigrations);
  await old.tenants.create(BEHIND);
  await addCompany(old, BEHIND, ["Old Timer"]);
  await old.close();

  const hub = sqliteHub(dir);
  const { collections, records } = await attachCollections(hub);
  const posts = await collections.create({
    name: "posts",
    fields: [
      { name: "title", type: "text" },
      { name: "views", type: "number" },
      { name: "published", type: "bool" },
      { name: "meta", type: "json" },
    ],
  });
  const users = await collections.create({
    name: "users",
    type: "auth",
    fields: [{ name: "nick", type: "text" }],
  });
  await collections.create({ name: "scratch", fields: [{ name: "note", type: "text" }] });

  await hub.tenants.create(ACME, { metadata: { plan: "pro", ü: [1, 2] } });
  await addCompany(hub, ACME, ["Ann", "Bob ☃", "Zoë 'the' \"dev\""]);
  const acme = await hub.tenant(ACME);
  await acme.db
    .insertInto("projects")
    .values([
      { id: 1, name: "Apollo", status: "active", created_at: NOW },
      { id: 2, name: "Zeus", status: "done", created_at: NOW },
    ])
    .execute();
  await acme.db.insertInto("company").values({ id: 1, created_at: NOW, updated_at: NOW }).execute();
  await acme.db
    .insertInto("kinds")
    .values([
      {
        label: "all",
        flag: true,
        ratio: 0.1,
        big: 9007199254740993n,
        data: Buffer.from([0, 1, 2, 255]),
        doc: JSON.stringify({ b: 1, a: [1, "é"] }),
      },
      { label: null, flag: false, ratio: null, big: null, data: null, doc: null },
      {
        label: "ünï 🎉 'quote' \"dq\" \\",
        flag: null,
        ratio: -1.5e300,
        big: -42,
        data: Buffer.alloc(0),
        doc: "[]",
      },
    ])
    .execute();
  await acme.db
    .insertInto("tags")
    .values([
      { name: "x", n: null },
      { name: "x", n: null },
    ])
    .execute();
  await records.create(acme, collections.require(posts.id), SUPERUSER, {
    title: "Hello ✨",
    views: 3.5,
    published: true,
    meta: { k: "v", n: [1, 2] },
  });
  await records.create(acme, collections.require(posts.id), SUPERUSER, { title: "draft" });
  await records.create(acme, collections.require(users.id), SUPERUSER, {
    email: "ann@example.com",
    password: "secret-123",
    passwordConfirm: "secret-123",
    nick: "Ann",
  });
  // A soft-deleted collection: its rows stay in the tenant under another table name.
  await records.create(acme, collections.require("scratch"), SUPERUSER, { note: "kept" });
  await collections.delete("scratch");
  await hub.tenant(ACME); // waking applies the deletion

  for (const key of HOSTILE) {
    await hub.tenants.create(key);
    await addCompany(hub, key, [key]);
    await records.create(await hub.tenant(key), collections.require(posts.id), SUPERUSER, {
      title: key,
    });
  }
  await hub.tenants.create(SUSPENDED);
  await addCompany(hub, SUSPENDED, ["Sue"]);
  await hub.tenants.suspend(SUSPENDED);
  await hub.catalog.db
    .insertInto("settings" as never)
    .values({ name: "jwt_secret", value: "source-secret", updated_at: 1 } as never)
    .execute();
  await hub.close();
  return dir;
}

const COPIED = [ACME, ...HOSTILE, SUSPENDED];

describe("tenantbase copy", { timeout: 300_000 }, () => {
  it("copies a SQLite deployment into PostgreSQL, verified row for row; re-runs are safe", async () => {
    const dir = await seed();
    const url = await pgDatabase();
    const common = ["--data", dir, "--to", url, "--app", APP];

    // The tenant behind on migrations fails with advice; every other one is copied.
    const first = await cli(["copy", "--json", ...common]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(1);
    const report = JSON.parse(first.stdout);
    expect(report.ok).toBe(false);
    expect(report.collections).toMatchObject({ outcome: "copied", collections: 3 });
    expect(report.settings).toEqual([{ name: "jwt_secret", outcome: "copied" }]);
    const byKey = new Map<string, any>(report.tenants.map((t: any) => [t.key, t]));
    const behind = byKey.get(BEHIND);
    expect(behind.status).toBe("failed");
    expect(behind.error).toMatch(/version \d+ of \d+ in the source: run `tenantbase migrate`/);
    for (const key of COPIED)
      expect(byKey.get(key)).toMatchObject({ status: "copied", error: null });
    const acmeReport = byKey.get(ACME);
    const tableRows = Object.fromEntries(acmeReport.tableRows.map((t: any) => [t.table, t.rows]));
    const archived = Object.keys(tableRows).filter((name) => name.startsWith("_deleted_"));
    expect(archived).toHaveLength(1);
    expect(tableRows).toEqual({
      [archived[0]!]: 1,
      company: 1,
      employees: 3,
      kinds: 3,
      posts: 2,
      projects: 2,
      tags: 3,
      users: 1,
    });
    expect(report.counts).toMatchObject({ copied: COPIED.length, failed: 1 });

    // What landed in PostgreSQL.
    const target = pgHub(url);
    const { collections, records } = await attachCollections(target);
    expect(collections.list().map((c) => c.name)).toEqual(["posts", "users"]);
    const keys = (await target.tenants.list({ limit: 100 })).items.map((t) => t.key).sort();
    expect(keys).toEqual([...COPIED].sort());
    const info = await target.tenants.get(ACME);
    expect(info.metadata).toEqual({ plan: "pro", ü: [1, 2] });
    expect(info.schemaVersion).toBe(target.targetVersion());
    expect((await target.tenants.get(SUSPENDED)).status).toBe("suspended");
    const acme = await target.tenant(ACME);
    const kinds = await acme.db.selectFrom("kinds").selectAll().orderBy("id").execute();
    expect(kinds).toEqual([
      {
        id: 1,
        label: "all",
        flag: true,
        ratio: 0.1,
        big: "9007199254740993",
        data: Buffer.from([0, 1, 2, 255]),
        doc: { a: [1, "é"], b: 1 },
      },
      { id: 2, label: null, flag: false, ratio: null, big: null, data: null, doc: null },
      {
        id: 3,
        label: "ünï 🎉 'quote' \"dq\" \\",
        flag: null,
        ratio: -1.5e300,
        big: "-42",
        data: Buffer.alloc(0),
        doc: [],
      },
    ]);
    const posts = await acme.db
      .selectFrom("posts")
      .select(["title", "views", "published", "meta"])
      .orderBy("title")
      .execute();
    expect(posts).toEqual([
      {
        title: "Hello ✨",
        views: 3.5,
        published: true,
        meta: JSON.stringify({ k: "v", n: [1, 2] }),
      },
      { title: "draft", views: 0, published: false, meta: null },
    ]);
    const login = await records.authenticate(
      acme,
      collections.require("users"),
      "ANN@example.com",
      "secret-123",
    );
    expect(login?.record).toMatchObject({ email: "ann@example.com", nick: "Ann" });
    for (const key of HOSTILE) {
      const t = await target.tenant(key);
      expect(await t.db.selectFrom("employees").select("name").execute()).toEqual([{ name: key }]);
    }
    await target.close();

    // Again: everything copied is verified equal and skipped; nothing is rewritten.
    const second = await cli(["copy", "--json", ...common]);
    expect(second.code).toBe(1);
    const again = JSON.parse(second.stdout);
    expect(again.counts).toMatchObject({ skipped: COPIED.length, failed: 1, copied: 0 });
    expect(again.collections.outcome).toBe("same");
    expect(again.settings).toEqual([{ name: "jwt_secret", outcome: "same" }]);

    // Once the source is migrated, the last tenant copies.
    const migrated = await cli(["migrate", "--json", "--data", dir, "--app", APP]);
    expect(migrated.code).toBe(0);
    const third = await cli(["copy", "--tenants", BEHIND, ...common]);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/TENANT\s+TABLES\s+ROWS\s+STATUS/);
    expect(third.stdout).toMatch(/behind\s+\d+\s+\d+\s+copied/);

    const verified = await cli(["copy", "--verify", "--json", ...common]);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout).counts).toMatchObject({ equal: COPIED.length + 1 });

    // A changed row in the target: --verify names the table, the row and the column.
    const tamper = pgHub(url);
    const acme2 = await tamper.tenant(ACME);
    await acme2.db.updateTable("employees").set({ name: "Mallory" }).where("id", "=", 2).execute();
    await tamper.close();
    const caught = await cli(["copy", "--verify", "--json", ...common]);
    expect(caught.code).toBe(1);
    const differs = JSON.parse(caught.stdout).tenants.find((t: any) => t.key === ACME);
    expect(differs.status).toBe("differs");
    expect(differs.difference).toMatchObject({
      table: "employees",
      row: { id: 2 },
      column: "name",
    });
    expect(differs.error).toContain('"Bob ☃" in the source, "Mallory" in the target');
    const text = await cli(["copy", "--verify", ...common]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/Acme Co\s+\d+\s+\d+\s+differs\s+table "employees"/);

    // Copying again reports the conflict and leaves the target alone.
    const conflict = await cli(["copy", "--json", ...common]);
    expect(conflict.code).toBe(1);
    const c = JSON.parse(conflict.stdout).tenants.find((t: any) => t.key === ACME);
    expect(c.status).toBe("conflict");
    expect(c.error).toMatch(/already in the target and different, left as it is/);
    const check = pgHub(url);
    const acme3 = await check.tenant(ACME);
    expect(
      await acme3.db.selectFrom("employees").select("name").where("id", "=", 2).execute(),
    ).toEqual([{ name: "Mallory" }]);
  });

  it("refuses a missing data directory or a non-postgres target", async () => {
    const missing = await cli(["copy", "--data", join(tempDir(), "nope"), "--to", "postgres://x"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not a Tenantbase data directory/);
    const dir = await seed();
    const bad = await cli(["copy", "--data", dir, "--to", "mysql://x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--to must be a postgres:\/\/ URL/);
  });
});

describe("copyDeployment / verifyTenant (in process)", { timeout: 300_000 }, () => {
  it("resets sequences, and verification catches missing, extra and changed rows", async () => {
    const dir = await seed();
    const source = sqliteHub(dir);
    const target = pgHub(await pgDatabase());
    // migrateSource: the tenant behind is migrated on the source first.
    const report = await copyDeployment(source, target, {
      tenants: [ACME, BEHIND],
      migrateSource: true,
    });
    expect(report.sourceRun).toMatchObject({ migrated: 1, failed: 0 });
    expect(report.tenants.map((t) => [t.status, t.error])).toEqual([
      ["copied", null],
      ["copied", null],
    ]);
    expect(report.ok).toBe(true);
    expect(await verifyTenant(source, target, ACME)).toMatchObject({ equal: true, rows: 16 });

    const acme = await target.tenant(ACME);
    const db = acme.db as Kysely<any>;
    // The serial sequence continues after the copied ids.
    const inserted = await db
      .insertInto("kinds")
      .values({ label: "new" })
      .returning("id")
      .executeTakeFirstOrThrow();
    expect(inserted.id).toBe(4);
    let result = await verifyTenant(source, target, ACME);
    expect(result.equal).toBe(false);
    expect(result.difference).toMatchObject({ table: "kinds", row: { id: 4 } });
    expect(result.difference?.message).toMatch(/3 rows in the source, 4 in the target/);
    await db.deleteFrom("kinds").where("id", "=", 4).execute();

    await db.deleteFrom("projects").where("id", "=", 1).execute();
    result = await verifyTenant(source, target, ACME);
    expect(result.difference).toMatchObject({ table: "projects", row: { id: 1 } });
    expect(result.difference?.message).toBe(
      'table "projects" (2 rows in the source, 1 in the target): row {"id":1} is missing from the target',
    );
    await db
      .insertInto("projects")
      .values({ id: 1, name: "Apollo", status: "active", created_at: NOW })
      .execute();

    // A table without a primary key is compared as a multiset.
    await db.deleteFrom("tags").where("name", "=", "x").execute();
    await db.insertInto("tags").values({ name: "x", n: null }).execute();
    result = await verifyTenant(source, target, ACME);
    expect(result.difference).toMatchObject({ table: "tags", row: { name: "x", n: null } });
    await db.insertInto("tags").values({ name: "x", n: null }).execute();

    // Blobs compare by bytes.
    await db
      .updateTable("kinds")
      .set({ data: Buffer.from([0, 1, 2, 254]) })
      .where("id", "=", 1)
      .execute();
    result = await verifyTenant(source, target, ACME);
    expect(result.difference).toMatchObject({ table: "kinds", row: { id: 1 }, column: "data" });
    await db
      .updateTable("kinds")
      .set({ data: Buffer.from([0, 1, 2, 255]) })
      .where("id", "=", 1)
      .execute();

    // Catalog state counts too.
    await target.tenants.suspend(ACME);
    result = await verifyTenant(source, target, ACME);
    expect(result.difference?.message).toMatch(/active in the source and suspended in the target/);
    await target.tenants.resume(ACME);
    expect((await verifyTenant(source, target, ACME)).equal).toBe(true);
  });
});

describe("canonicalValue", () => {
  it("makes SQLite's and PostgreSQL's forms of one value equal, and different values not", () => {
    const same = (kind: Parameters<typeof canonicalValue>[1], a: unknown, b: unknown) =>
      expect(canonicalValue(a, kind)).toBe(canonicalValue(b, kind));
    same("bool", 1, true);
    same("bool", 0, false);
    same("int", "9007199254740993", "9007199254740993");
    same("int", 42, "42");
    same("numeric", 1.5, "1.50");
    same("float", 0.1, 0.1);
    same("bytea", Buffer.from([0, 255]), new Uint8Array([0, 255]));
    same("json", '{"b":1,"a":[1,"é"]}', { a: [1, "é"], b: 1 });
    same("text", 3, "3");
    expect(canonicalValue(null, "text")).toBeNull();
    expect(canonicalValue("", "text")).toBe("");
    expect(canonicalValue(1, "bool")).not.toBe(canonicalValue(false, "bool"));
    expect(canonicalValue(1.5, "int")).not.toBe(canonicalValue("2", "int"));
    expect(canonicalValue(Buffer.from([1]), "bytea")).not.toBe(
      canonicalValue(Buffer.from([2]), "bytea"),
    );
    expect(canonicalValue('{"a":1}', "json")).not.toBe(canonicalValue({ a: "1" }, "json"));
  });
});
