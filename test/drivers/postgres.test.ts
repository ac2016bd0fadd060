import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import type pg from "pg";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { schemaOf } from "../../src/drivers/postgres/index.js";
import { createTenantbase, type Migration, storageName, type Tenantbase } from "../../src/index.js";
import { startServer } from "../../src/server/index.js";
import { tempDir } from "../helpers/temp.js";
import { driverConformance, type NotesDB, notes } from "./conformance.js";
import { type FreshPostgres, postgresFixture, postgresScope } from "./pg-fixture.js";
import {
  counterMigration,
  expectNoSessionLeak,
  expectOneWriterPerTenant,
} from "./postgres-scenarios.js";

driverConformance("postgres", postgresFixture);

describe("postgres driver", () => {
  const { defer, fresh, direct } = postgresScope();

  function hubOver(store: FreshPostgres, migrations: Migration[] = [notes]): Tenantbase {
    const hub = createTenantbase({ driver: store.driver(), migrations });
    defer(() => hub.close());
    return hub;
  }

  it("never leaks a search_path: hundreds of interleaved operations over 3 connections", async () => {
    const store = await fresh({ max: 3 });
    const hub = hubOver(store);
    const keys = Array.from({ length: 24 }, (_, i) => `tenant-${i}`);
    expect(await expectNoSessionLeak(hub, keys, 15)).toBe(24 * 15);
    // Every connection of the shared pool is back at the server's default search_path.
    const driver = hub.driver as unknown as { pool: pg.Pool };
    const clients = await Promise.all([1, 2, 3].map(() => driver.pool.connect()));
    try {
      for (const client of clients) {
        const { rows } = await client.query("show search_path");
        expect(rows[0].search_path).toBe('"$user", public');
        const { rows: tx } = await client.query("select txid_current_if_assigned() as tx");
        expect(tx[0].tx).toBeNull();
      }
    } finally {
      for (const client of clients) client.release();
    }
    expect(driver.pool.totalCount).toBeLessThanOrEqual(3);
  });

  it("keeps one writer per tenant across processes, with a lock per tenant, not a global one", async () => {
    const store = await fresh();
    // Two hubs, two pools: as two processes would be.
    await expectOneWriterPerTenant(
      hubOver(store, [counterMigration]),
      hubOver(store, [counterMigration]),
    );
  });

  it("starts several processes on a fresh database at once: catalog and template built once", async () => {
    const store = await fresh();
    const hubs = Array.from({ length: 4 }, () => hubOver(store));
    await Promise.all(hubs.map((hub) => hub.ready()));
    await Promise.all(hubs.map((hub, i) => hub.tenants.create(`first-${i}`)));
    expect(await hubs[0]!.tenants.count()).toBe(4);
    const client = await direct(store);
    const { rows } = await client.query(
      "select nspname from pg_namespace where nspname like 'tenantbase%' order by nspname",
    );
    const names = rows.map((r) => r.nspname as string);
    expect(names.filter((n) => n.startsWith("tenantbase_tpl_"))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith("tenantbase_tmp_"))).toHaveLength(0);
    expect(names).toContain("tenantbase");
  });

  it("stores tenants as quoted schemas, long keys under hashed names, deletes into archive schemas", async () => {
    const store = await fresh();
    const hub = hubOver(store);
    const long = "ü".repeat(64);
    await hub.tenants.create("Acme Co");
    await hub.tenants.create(long);
    const acme = await hub.tenant<NotesDB>("Acme Co");
    await acme.db.insertInto("notes").values({ id: "1", body: "archived row" }).execute();
    const client = await direct(store);
    const schemas = async () =>
      (await client.query("select nspname from pg_namespace")).rows.map((r) => r.nspname);
    expect(await schemas()).toContain("t-_41cme_20_43o");
    expect(storageName(long).length).toBeGreaterThan(63);
    expect(schemaOf(storageName(long))).toMatch(/^h-[a-z2-7]{52}$/);
    expect(await schemas()).toContain(schemaOf(storageName(long)));
    const { rows: catalog } = await client.query("select key from tenantbase.tenants order by key");
    expect(catalog.map((r) => r.key)).toEqual(["Acme Co", long]);

    const { archivePath } = await hub.tenants.delete("Acme Co");
    const archive = archivePath.replace(/^postgres-schema:/, "");
    expect(archive).toMatch(/^tenantbase_archive_[0-9a-f]{32}$/);
    expect(await schemas()).not.toContain("t-_41cme_20_43o");
    const { rows } = await client.query(`select body from "${archive}".notes`);
    expect(rows).toEqual([{ body: "archived row" }]);
    const { rows: comment } = await client.query(
      "select obj_description(oid, 'pg_namespace') as c from pg_namespace where nspname = $1",
      [archive],
    );
    expect(JSON.parse(comment[0].c)).toMatchObject({ archiveOf: "t-_41cme_20_43o" });
  });

  it("archives a schema left by a crash instead of reusing or destroying it", async () => {
    const store = await fresh();
    const hub = hubOver(store);
    await hub.ready();
    const client = await direct(store);
    await client.query(`create schema "t-ghost"; create table "t-ghost".left_behind (x text);
      insert into "t-ghost".left_behind values ('from before the crash')`);
    await hub.tenants.create("ghost");
    const ghost = await hub.tenant<NotesDB>("ghost");
    expect(await ghost.db.selectFrom("notes").selectAll().execute()).toEqual([]);
    expect((await ghost.db.introspection.getTables()).map((t) => t.name)).not.toContain(
      "left_behind",
    );
    const { rows } = await client.query(
      `select n.nspname from pg_namespace n join pg_class c on c.relnamespace = n.oid
        where c.relname = 'left_behind'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].nspname).toMatch(/^tenantbase_archive_/);
    const { rows: kept } = await client.query(`select x from "${rows[0].nspname}".left_behind`);
    expect(kept).toEqual([{ x: "from before the crash" }]);
  });

  it("clones rich templates and backs them up faithfully: sequences, identity, enums, FKs, views, triggers", async () => {
    const rich: Migration = {
      name: "0001_rich",
      async up(db) {
        await sql`create type mood as enum ('happy', 'it''s fine', 'sad')`.execute(db);
        await sql`create table teams (id serial primary key, name text not null unique)`.execute(
          db,
        );
        await sql`create table people (
          id bigint generated always as identity primary key,
          team_id integer not null references teams(id),
          name text not null default 'anon',
          mood mood not null default 'happy',
          tags text[] not null default '{}',
          data jsonb,
          photo bytea,
          score numeric(10, 3) check (score >= 0),
          name_upper text generated always as (upper(name)) stored,
          updated_at timestamptz
        )`.execute(db);
        await sql`create unique index people_name_live on people (lower(name)) where mood <> 'sad'`.execute(
          db,
        );
        await sql`create view team_sizes as select t.name, count(p.id) as n from teams t left join people p on p.team_id = t.id group by t.name`.execute(
          db,
        );
        await sql`create function touch() returns trigger language plpgsql as $$ begin new.updated_at := now(); return new; end $$`.execute(
          db,
        );
        await sql`create trigger people_touch before insert or update on people for each row execute function touch()`.execute(
          db,
        );
        // Seed rows belong to the template: every tenant starts with them.
        await sql`insert into teams (name) values ('core'), ('ops')`.execute(db);
      },
    };
    const store = await fresh();
    const hub = hubOver(store, [rich]);
    await hub.tenants.create("a");
    await hub.tenants.create("b");
    const a = await hub.tenant("a");
    const teams = async (db: Kysely<any>) =>
      (await sql<{ id: number; name: string }>`select id, name from teams order by id`.execute(db))
        .rows;
    expect(await teams(a.db)).toEqual([
      { id: 1, name: "core" },
      { id: 2, name: "ops" },
    ]);
    // The cloned sequence continues after the seeded rows.
    await sql`insert into teams (name) values ('sales')`.execute(a.db);
    expect((await teams(a.db)).at(-1)).toEqual({ id: 3, name: "sales" });
    await sql`insert into people (team_id, name, mood, tags, data, photo, score)
      values (3, 'Zoë', 'it''s fine', '{x,"y z"}', '{"k": [1, 2]}', '\\xdeadbeef', 1.5)`.execute(
      a.db,
    );
    const person = (
      await sql<any>`select name, name_upper, mood, tags, data, photo, score::text as score, updated_at from people`.execute(
        a.db,
      )
    ).rows[0];
    expect(person).toMatchObject({
      name: "Zoë",
      name_upper: "ZOË",
      mood: "it's fine",
      tags: ["x", "y z"],
      data: { k: [1, 2] },
      score: "1.500",
    });
    expect(person.updated_at).toBeInstanceOf(Date);
    expect(Buffer.from(person.photo).toString("hex")).toBe("deadbeef");
    await expect(
      sql`insert into people (team_id, name) values (99, 'nobody')`.execute(a.db),
    ).rejects.toThrow(/foreign key/);
    await expect(
      sql`insert into people (team_id, name, score) values (1, 'neg', -1)`.execute(a.db),
    ).rejects.toThrow(/check constraint/);
    await expect(
      sql`insert into people (team_id, name) values (1, 'zoë')`.execute(a.db),
    ).rejects.toThrow(/people_name_live/);
    // b is untouched by a's rows.
    expect(await teams((await hub.tenant("b")).db)).toHaveLength(2);

    const file = join(tempDir(), "a.backup");
    await hub.tenants.backup("a", file);
    await sql`delete from people`.execute(a.db);
    await sql`drop view team_sizes`.execute(a.db);
    await hub.tenants.restore("a", file);
    const restored = (await hub.tenant("a")).db;
    const again = (
      await sql<any>`select name, name_upper, mood, tags, data, photo, score::text as score, updated_at from people`.execute(
        restored,
      )
    ).rows[0];
    expect(again).toEqual(person);
    expect(
      (await sql<any>`select name, n::int as n from team_sizes order by name`.execute(restored))
        .rows,
    ).toEqual([
      { name: "core", n: 0 },
      { name: "ops", n: 0 },
      { name: "sales", n: 1 },
    ]);
    // Sequences and identity continue where the copy left off; triggers and FKs are back.
    await sql`insert into teams (name) values ('legal')`.execute(restored);
    expect((await teams(restored)).at(-1)).toEqual({ id: 4, name: "legal" });
    await sql`insert into people (team_id, name) values (4, 'Ann')`.execute(restored);
    const ids = (
      await sql<{
        id: string;
        touched: boolean;
      }>`select id, updated_at is not null as touched from people order by id`.execute(restored)
    ).rows;
    // The three failed inserts above used identity values 2 to 4: the copy remembers that.
    expect(ids).toEqual([
      { id: "1", touched: true },
      { id: "5", touched: true },
    ]);
    await expect(
      sql`insert into people (team_id, name) values (99, 'nobody')`.execute(restored),
    ).rejects.toThrow(/foreign key/);
  });

  it("validates backup files before touching the tenant", async () => {
    const store = await fresh();
    const hub = hubOver(store);
    await hub.tenants.create("acme");
    await (await hub.tenant<NotesDB>("acme")).db
      .insertInto("notes")
      .values({ id: "1", body: "precious" })
      .execute();
    const dir = tempDir();
    const file = join(dir, "acme.backup");
    await hub.tenants.backup("acme", file);
    const original = JSON.parse(readFileSync(file, "utf8"));

    const tampered = join(dir, "tampered");
    const edited = structuredClone(original);
    edited.tables[0].rows = [];
    writeFileSync(tampered, JSON.stringify(edited));
    await expect(hub.tenants.restore("acme", tampered)).rejects.toThrow(/checksum/);

    // A valid checksum does not make arbitrary SQL acceptable.
    const { createHash } = await import("node:crypto");
    const hostile = structuredClone(original);
    hostile.post.push("drop schema tenantbase cascade");
    hostile.checksum = createHash("sha256")
      .update(
        JSON.stringify([
          hostile.format,
          hostile.version,
          hostile.pre,
          hostile.post,
          hostile.tables,
          hostile.sequences,
        ]),
      )
      .digest("hex");
    const evil = join(dir, "evil");
    writeFileSync(evil, JSON.stringify(hostile));
    await expect(hub.tenants.restore("acme", evil)).rejects.toThrow(/does not run/);

    const smuggled = structuredClone(original);
    smuggled.pre[0] = `${smuggled.pre[0]}; drop schema tenantbase cascade`;
    smuggled.checksum = createHash("sha256")
      .update(
        JSON.stringify([
          smuggled.format,
          smuggled.version,
          smuggled.pre,
          smuggled.post,
          smuggled.tables,
          smuggled.sequences,
        ]),
      )
      .digest("hex");
    const smuggledFile = join(dir, "smuggled");
    writeFileSync(smuggledFile, JSON.stringify(smuggled));
    await expect(hub.tenants.restore("acme", smuggledFile)).rejects.toThrow(/multiple commands/);

    const acme = await hub.tenant<NotesDB>("acme");
    expect(await acme.db.selectFrom("notes").select("body").execute()).toEqual([
      { body: "precious" },
    ]);
    expect(await hub.tenants.count()).toBe(1);
  });

  it("provisions quickly at the current schema, from spares kept ready in the background", async () => {
    const measure = async (spares: number) => {
      const store = await fresh({ max: 10, spares });
      const hub = hubOver(store);
      await hub.tenants.create("warm-up");
      const client = await direct(store);
      const spareCount = async () =>
        Number(
          (
            await client.query(
              "select count(*) as n from pg_namespace where nspname like 'tenantbase\\_spare\\_%'",
            )
          ).rows[0].n,
        );
      if (spares > 0) {
        await expect.poll(spareCount, { timeout: 20_000, interval: 50 }).toBe(spares);
      }
      let started = performance.now();
      for (let i = 0; i < spares; i++) await hub.tenants.create(`spare-${i}`);
      const fromSpares = spares / ((performance.now() - started) / 1000);
      if (spares > 0) expect(await spareCount()).toBeLessThan(spares);
      started = performance.now();
      const count = 100;
      await Promise.all(Array.from({ length: count }, (_, i) => hub.tenants.create(`par-${i}`)));
      const parallel = count / ((performance.now() - started) / 1000);
      expect(await hub.tenants.count()).toBe(count + spares + 1);
      for (const key of ["spare-0", `par-${count - 1}`].slice(spares > 0 ? 0 : 1)) {
        const t = await hub.tenant<NotesDB>(key);
        await t.db.insertInto("notes").values({ id: "1", body: key }).execute();
        expect(await t.db.selectFrom("notes").select("body").execute()).toEqual([{ body: key }]);
        expect((await hub.tenants.get(key)).schemaVersion).toBe(1);
        expect(
          (await sql<{ n: string }>`select count(*) as n from _tenantbase_migrations`.execute(t.db))
            .rows[0]?.n,
        ).toBe("1");
      }
      await hub.close();
      return { fromSpares, parallel };
    };
    const withSpares = await measure(16);
    const without = await measure(0);
    console.log(
      `postgres provisioning: ${withSpares.fromSpares.toFixed(0)} tenants/s one by one from spares; ` +
        `100 concurrent creates: ${withSpares.parallel.toFixed(0)} tenants/s (spares on), ${without.parallel.toFixed(0)} tenants/s (spares off)`,
    );
  });

  it("serves the HTTP API: a database, a collection, a record, a list", async () => {
    const store = await fresh();
    const hub = createTenantbase({ driver: store.driver() });
    const adminToken = "pg-admin-token-0123456789";
    const server = await startServer({
      hub,
      adminToken,
      jwtSecret: "pg-test-jwt-secret-of-enough-length",
      logger: pino({ level: "silent" }),
      port: 0,
      host: "127.0.0.1",
    });
    defer(async () => {
      await server.close();
      await hub.close();
    });
    const call = async (method: string, path: string, body?: unknown, tenant?: string) => {
      const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
      if (tenant) headers["x-dbname"] = tenant;
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(server.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };
    expect((await call("POST", "/api/databases", { name: "Acme Co" })).status).toBe(200);
    expect((await call("POST", "/api/databases", { name: "Acme Co" })).status).toBe(409);
    expect((await call("POST", "/api/databases", { name: "a\u0000b" })).status).toBe(400);
    const created = await call("POST", "/api/collections", {
      name: "posts",
      fields: [
        { name: "title", type: "text", required: true },
        { name: "views", type: "number" },
        { name: "live", type: "bool" },
        { name: "tags", type: "select", values: ["a", "b"], maxSelect: 2 },
        { name: "email", type: "email", unique: true },
      ],
      listRule: "",
      viewRule: "",
      createRule: "",
    });
    expect(created.status).toBe(200);
    const record = await call(
      "POST",
      "/api/collections/posts/records",
      { title: "hello", views: 3, live: true, tags: ["a", "b"], email: "x@example.com" },
      "Acme Co",
    );
    expect(record.status).toBe(200);
    const list = await call(
      "GET",
      "/api/collections/posts/records?filter=(views>2%26%26live=true)&sort=-created",
      undefined,
      "Acme Co",
    );
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ page: 1, totalItems: 1 });
    expect(list.body.items[0]).toMatchObject({
      id: record.body.id,
      title: "hello",
      views: 3,
      live: true,
      tags: ["a", "b"],
    });
    const databases = await call("GET", "/api/databases");
    expect(databases.status).toBe(200);
    const acme = databases.body.find((d: { name: string }) => d.name === "Acme Co");
    expect(acme).toMatchObject({ status: "active" });
    expect(acme.sizeBytes).toBeGreaterThan(0);
    expect((await call("DELETE", "/api/databases/Acme%20Co")).status).toBe(204);
  });
});
