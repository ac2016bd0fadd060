/**
 * What the postgres driver does for databases with many tenant schemas (see
 * docs/postgres-scale.md): `size()` finds a schema's relations through an
 * index (and counts what the namespace filter counted), and pooled
 * connections are recycled after a default lifetime, transparently.
 */
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { quoteIdentifier } from "../../src/drivers/postgres/connection.js";
import { postgres, schemaOf } from "../../src/drivers/postgres/index.js";
import {
  DEFAULT_MAX_LIFETIME_SECONDS,
  type PostgresStorageDriver,
} from "../../src/drivers/postgres/storage.js";
import { createTenantbase, storageName, type Tenantbase } from "../../src/index.js";
import { type NotesDB, notesMigration } from "../helpers/hub.js";
import { postgresScope } from "./pg-fixture.js";

describe("postgres driver at scale", () => {
  const { defer, fresh, direct } = postgresScope();

  function hubOver(driver: PostgresStorageDriver): Tenantbase {
    const hub = createTenantbase({ driver, migrations: [notesMigration] });
    defer(() => hub.close());
    return hub;
  }

  it("size() counts what the namespace filter counted: tables, TOAST, indexes, sequences, matviews", async () => {
    const store = await fresh({ spares: 0, events: false });
    const driver = store.driver() as PostgresStorageDriver;
    const client = await direct(store);
    const schemas = ["t-sized", "t-other", "t-empty"];
    for (const schema of schemas) await client.query(`create schema ${quoteIdentifier(schema)}`);
    await client.query(`set search_path to "t-sized";
      create table big (id serial primary key, body text);
      insert into big (body) select repeat(md5(g::text), 300) from generate_series(1, 200) g;
      create index big_body on big (left(body, 10));
      create sequence free_seq;
      create materialized view big_count as select count(*) as n from big;
      create view big_view as select id from big;
      set search_path to "t-other";
      create table big (id serial primary key, body text);
      reset search_path`);
    const reference = async (schema: string) =>
      Number(
        (
          await client.query(
            `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as bytes
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = $1 and c.relkind in ('r', 'm', 'S', 't')`,
            [schema],
          )
        ).rows[0].bytes,
      );
    for (const schema of schemas) {
      expect(await driver.size(schema), schema).toBe(await reference(schema));
    }
    expect(await driver.size("t-sized")).toBeGreaterThan(await driver.size("t-other"));
    expect(await driver.size("t-empty")).toBe(0);
    expect(await driver.size("t-missing")).toBe(0);
    await driver.close();
  });

  it("gives both pools a default connection lifetime, which poolConfig overrides", async () => {
    const store = await fresh({ spares: 0, events: false });
    const defaults = store.driver() as PostgresStorageDriver;
    expect(DEFAULT_MAX_LIFETIME_SECONDS).toBeGreaterThanOrEqual(300);
    expect(DEFAULT_MAX_LIFETIME_SECONDS).toBeLessThanOrEqual(600);
    expect(defaults.pool.options.maxLifetimeSeconds).toBe(DEFAULT_MAX_LIFETIME_SECONDS);
    expect(defaults.catalogPool.options.maxLifetimeSeconds).toBe(DEFAULT_MAX_LIFETIME_SECONDS);
    for (const [config, expected] of [
      [{ maxLifetimeSeconds: 0 }, 0],
      [{ maxLifetimeSeconds: 42 }, 42],
      [{ ssl: false }, DEFAULT_MAX_LIFETIME_SECONDS],
    ] as const) {
      const driver = postgres({ url: store.url, poolConfig: config, events: false });
      expect(driver.pool.options.maxLifetimeSeconds).toBe(expected);
      expect(driver.catalogPool.options.maxLifetimeSeconds).toBe(expected);
      await driver.close();
    }
  });

  it("recycles a connection between units of work without the tenants noticing", async () => {
    const store = await fresh({ spares: 0, events: false });
    const driver = postgres({
      url: store.url,
      max: 1,
      catalogMax: 1,
      spares: 0,
      events: false,
      poolConfig: { maxLifetimeSeconds: 1 },
    });
    const hub = hubOver(driver);
    await hub.tenants.create("a");
    await hub.tenants.create("b");
    const pid = async () =>
      (await driver.pool.query("select pg_backend_pid() as pid")).rows[0].pid as number;
    const a = await hub.tenant<NotesDB>("a");
    const b = await hub.tenant<NotesDB>("b");
    const first = await pid();
    // A transaction that outlives the lifetime keeps its connection until it ends.
    await a.transaction(async (trx) => {
      await trx.insertInto("notes").values({ id: 1, body: "before" }).execute();
      await new Promise((resolve) => setTimeout(resolve, 1300));
      await trx.insertInto("notes").values({ id: 2, body: "still the same transaction" }).execute();
    });
    await b.db.insertInto("notes").values({ id: 1, body: "b" }).execute();
    const second = await pid();
    expect(second).not.toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(await a.db.selectFrom("notes").select("body").orderBy("id").execute()).toEqual([
      { body: "before" },
      { body: "still the same transaction" },
    ]);
    expect(await b.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "b" }]);
    expect(await pid()).not.toBe(second);
    // A recycled connection starts with the server's defaults: nothing was carried over.
    const { rows } = await sql<{
      path: string;
    }>`select current_setting('search_path') as path`.execute(a.db);
    expect(rows[0]?.path).toBe(quoteIdentifier(schemaOf(storageName("a"))));
    const plain = await driver.pool.query("show search_path");
    expect(plain.rows[0].search_path).toBe('"$user", public');
  }, 30_000);
});
