/**
 * The PostgreSQL driver behind PgBouncer in transaction mode (pool_mode =
 * transaction, 2 server connections): a PgBouncer process of this file's
 * own in front of a throwaway database. Every hub below connects through
 * it; only the LISTEN connection of the events transport (and the checks)
 * go to PostgreSQL directly. See docs/postgres.md, "Behind PgBouncer".
 */
import { sql } from "kysely";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LISTENER_APPLICATION_NAME, postgres } from "../../src/drivers/postgres/index.js";
import type {
  PostgresDriverOptions,
  PostgresStorageDriver,
} from "../../src/drivers/postgres/storage.js";
import {
  createTenantbase,
  type Migration,
  storageName,
  type Tenantbase,
  type TenantEvent,
} from "../../src/index.js";
import { type PgBouncer, startPgBouncer } from "../helpers/pgbouncer.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";
import { type NotesDB, notes } from "./conformance.js";
import { type ThrowawayDatabase, throwawayDatabase } from "./pg-fixture.js";
import {
  counterMigration,
  expectNoSessionLeak,
  expectOneWriterPerTenant,
} from "./postgres-scenarios.js";

const POOL_SIZE = 2;

let db: ThrowawayDatabase;
let bouncer: PgBouncer;
const hubs: Tenantbase[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await throwawayDatabase();
  bouncer = await startPgBouncer(db.url, { poolSize: POOL_SIZE });
}, 60_000);

afterEach(async () => {
  for (const hub of hubs.splice(0).reverse()) await hub.close().catch(() => {});
  for (const client of clients.splice(0)) await client.end().catch(() => {});
});

afterAll(async () => {
  await bouncer?.stop();
  await db?.drop();
});

/**
 * A hub through PgBouncer. catalogMax stays below PgBouncer's pool size: a
 * tenant creation holds a catalog transaction while it provisions through
 * the tenant pool, and PgBouncer has only POOL_SIZE server connections for
 * both pools.
 */
function hubThrough(
  migrations: Migration[] = [notes],
  options: Omit<PostgresDriverOptions, "url"> = {},
): Tenantbase {
  const hub = createTenantbase({
    driver: postgres({ url: bouncer.url, max: 6, catalogMax: 1, events: false, ...options }),
    migrations,
  });
  hubs.push(hub);
  return hub;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

describe("postgres driver behind PgBouncer (transaction mode)", () => {
  it("provisions tenants concurrently, from spares and from the script, and archives them", async () => {
    const hub = hubThrough();
    await hub.ready();
    const keys = Array.from({ length: 30 }, (_, i) => `bounced-${i}`);
    await Promise.all(keys.map((key) => hub.tenants.create(key)));
    expect(await hub.tenants.count()).toBe(30);
    const direct = await connect(db.url);
    const { rows } = await direct.query(
      "select nspname from pg_namespace where nspname like 't-bounced-%'",
    );
    expect(rows.map((r) => r.nspname).sort()).toEqual(keys.map(storageName).sort());
    const t = await hub.tenant<NotesDB>("bounced-3");
    await t.db.insertInto("notes").values({ id: "1", body: "hello" }).execute();
    expect(await t.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "hello" }]);
    await hub.tenants.delete("bounced-3");
    expect(await hub.tenants.exists("bounced-3")).toBe(false);
    // Never more server connections than PgBouncer's pool, however many clients.
    const pools = await bouncer.admin("show pools");
    const pool = pools.find((p) => p.database === db.name);
    expect(
      Number(pool?.sv_active) + Number(pool?.sv_idle) + Number(pool?.sv_used),
    ).toBeLessThanOrEqual(POOL_SIZE);
  });

  it("never leaks session state: interleaved concurrent operations of 24 tenants over 2 server connections", async () => {
    const hub = hubThrough();
    const keys = Array.from({ length: 24 }, (_, i) => `leak-${i}`);
    await expectNoSessionLeak(hub, keys, 12);
    // Both server connections are back at the default search_path, outside any transaction:
    // two clients in open transactions hold one server connection each.
    const [one, two] = [await connect(bouncer.url), await connect(bouncer.url)];
    await one!.query("begin");
    await two!.query("begin");
    const seen = new Set<number>();
    for (const client of [one!, two!]) {
      const { rows } = await client.query(
        "select current_setting('search_path') as path, pg_backend_pid() as pid, txid_current_if_assigned() as tx",
      );
      expect(rows[0].path).toBe('"$user", public');
      expect(rows[0].tx).toBeNull();
      seen.add(rows[0].pid);
    }
    expect(seen.size).toBe(2);
    await one!.query("rollback");
    await two!.query("rollback");
  });

  it("rolls a migration out to every tenant (hub.migrations.run)", async () => {
    const v1 = hubThrough();
    const keys = Array.from({ length: 20 }, (_, i) => `fleet-${i}`);
    await Promise.all(keys.map((key) => v1.tenants.create(key)));
    for (const key of keys.slice(0, 5)) {
      const t = await v1.tenant<NotesDB>(key);
      await t.db.insertInto("notes").values({ id: "1", body: key }).execute();
    }
    await v1.close();
    const tagged: Migration = {
      name: "0002_tag",
      async up(db) {
        await db.schema.alterTable("notes").addColumn("tag", "text").execute();
        await db.schema.createIndex("notes_tag").on("notes").column("tag").execute();
        await sql`update notes set tag = 'old'`.execute(db);
      },
      async down(db) {
        await db.schema.alterTable("notes").dropColumn("tag").execute();
      },
    };
    const v2 = hubThrough([notes, tagged]);
    const run = await v2.migrations.run({ tenants: keys, concurrency: 4 });
    expect(run.status).toBe("completed");
    expect(run.counts.migrated).toBe(20);
    const status = await v2.migrations.status();
    expect(status.failed).toEqual([]);
    const t = await v2.tenant<NotesDB>("fleet-2");
    expect(await t.db.selectFrom("notes").select(["body", "tag"]).execute()).toEqual([
      { body: "fleet-2", tag: "old" },
    ]);
    const direct = await connect(db.url);
    const { rows } = await direct.query(
      `select count(*)::int as n from information_schema.columns
        where table_schema like 't-fleet-%' and table_name = 'notes' and column_name = 'tag'`,
    );
    expect(rows[0].n).toBe(20);
  });

  it("keeps one writer per tenant across processes through the pooler, with no global lock", async () => {
    // Two hubs, two client pools, one PgBouncer: as two server processes behind one pooler.
    // While one server connection is held by a tenant's open transaction, the other serves another tenant.
    await expectOneWriterPerTenant(hubThrough([counterMigration]), hubThrough([counterMigration]), {
      otherTenantWithinMs: 2000,
    });
  });

  it("backs a tenant up and restores it through the pooler", async () => {
    const hub = hubThrough();
    await hub.tenants.create("saved");
    const t = await hub.tenant<NotesDB>("saved");
    await t.db.insertInto("notes").values({ id: "1", body: "kept" }).execute();
    const file = `${tempDir()}/saved.json`;
    await hub.tenants.backup("saved", file);
    await t.db.deleteFrom("notes").execute();
    await hub.tenants.restore("saved", file);
    const after = await hub.tenant<NotesDB>("saved");
    expect(await after.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "kept" }]);
  });

  it("carries events between processes with the LISTEN connection on a direct URL (events.listenUrl)", async () => {
    const node = () => hubThrough([notes], { events: { listenUrl: db.url } });
    const a = node();
    const b = node();
    await Promise.all([a.ready(), b.ready()]);
    await a.tenants.create("events");
    const seen: TenantEvent[] = [];
    a.subscribe("events", (event) => seen.push(event));
    const t = await b.tenant<NotesDB>("events");
    await t.transaction(async (trx) => {
      await trx.insertInto("notes").values({ id: "1", body: "x" }).execute();
      t.broadcast("noted", { id: 1 });
    });
    await waitFor("the event on a", () => seen.length > 0);
    expect(seen.map((e) => [e.name, e.payload])).toEqual([["noted", { id: 1 }]]);
    // The listening connections are direct sessions, not PgBouncer's clients.
    const direct = await connect(db.url);
    const { rows } = await direct.query(
      `select count(*)::int as n from pg_stat_activity
        where datname = $1 and application_name = $2 and query like 'listen %'`,
      [db.name, LISTENER_APPLICATION_NAME],
    );
    expect(rows[0].n).toBe(2);
    const bounced = await bouncer.admin("show clients");
    expect(bounced.length).toBeGreaterThan(0);
    expect(bounced.filter((c) => c.application_name === LISTENER_APPLICATION_NAME)).toEqual([]);
  });

  it("says so when LISTEN goes through the pooler (no events.listenUrl), and not when it is direct", async () => {
    const nodeWith = (options: Omit<PostgresDriverOptions, "url">) => {
      const driver = postgres({ url: bouncer.url, max: 6, catalogMax: 1, ...options });
      const errors: Array<{ error: unknown; context: string }> = [];
      const hub = createTenantbase({
        driver,
        migrations: [notes],
        onError: (error, context) => errors.push({ error, context }),
      });
      hubs.push(hub);
      return { hub, driver: driver as PostgresStorageDriver, errors };
    };
    const pooled = nodeWith({ events: true });
    const direct = nodeWith({ events: { listenUrl: db.url } });
    await Promise.all([pooled.hub.ready(), direct.hub.ready()]);
    // The self-check's probe goes through the pool; through PgBouncer's LISTEN it never comes back.
    const report = await waitFor("the self-check's report", () =>
      pooled.errors.find((e) => e.context.includes("LISTEN receives nothing")),
    );
    expect(report.context).toContain("events.listenUrl");
    expect(String(report.error)).toContain("did not reach the LISTEN connection");
    expect(pooled.driver.events!.probe).toBe("failed");
    // It keeps working otherwise: the hub serves, and the direct listener's check passed.
    await pooled.hub.tenants.create("probed");
    const t = await pooled.hub.tenant<NotesDB>("probed");
    await t.db.insertInto("notes").values({ id: "1", body: "still works" }).execute();
    await waitFor("the direct listener's self-check", () => direct.driver.events!.probe === "ok");
    expect(direct.errors).toEqual([]);
  });
});
