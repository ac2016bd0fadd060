/**
 * Events between processes on one PostgreSQL database (LISTEN/NOTIFY): two
 * hubs, each on its own driver and pools, stand for two server processes.
 */
import { type Generated, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LISTENER_APPLICATION_NAME, postgres } from "../../src/drivers/postgres/index.js";
import type { PostgresStorageDriver } from "../../src/drivers/postgres/storage.js";
import {
  createTenantbase,
  type Migration,
  type Tenantbase,
  type TenantEvent,
} from "../../src/index.js";
import { waitFor } from "../helpers/wait.js";
import { type ThrowawayDatabase, throwawayDatabase } from "./pg-fixture.js";

interface LogDB {
  log: { id: Generated<number>; body: string };
}

const migrations: Migration[] = [
  {
    name: "0001_log",
    async up(db) {
      await sql`create table log (id serial primary key, body text not null)`.execute(db);
    },
  },
];

interface Node {
  hub: Tenantbase;
  driver: PostgresStorageDriver;
  errors: Array<{ error: unknown; context: string }>;
}

let db: ThrowawayDatabase;
const nodes: Node[] = [];

async function node(): Promise<Node> {
  const driver = postgres({ url: db.url, max: 6, spares: 0 });
  const errors: Node["errors"] = [];
  const hub = createTenantbase({
    driver,
    migrations,
    onError: (error, context) => errors.push({ error, context }),
  });
  await hub.ready();
  const created = { hub, driver, errors };
  nodes.push(created);
  return created;
}

/** Everything `hub` delivers for `tenant`, as [name, payload]. */
function record(hub: Tenantbase, tenant: string): Array<[string, unknown]> {
  const seen: Array<[string, unknown]> = [];
  hub.subscribe(tenant, (event: TenantEvent) => {
    expect(event.tenant).toBe(tenant);
    seen.push([event.name, event.payload]);
  });
  return seen;
}

function named(seen: Array<[string, unknown]>, name: string): unknown[] {
  return seen.filter(([n]) => n === name).map(([, payload]) => payload);
}

let a: Node;
let b: Node;

beforeAll(async () => {
  db = await throwawayDatabase();
  a = await node();
  b = await node();
  await a.hub.tenants.create("acme");
  await a.hub.tenants.create("globex");
});

afterAll(async () => {
  for (const n of nodes) await n.hub.close().catch(() => {});
  await db?.drop();
});

describe("events across processes (postgres LISTEN/NOTIFY)", () => {
  it("delivers an event broadcast in a transaction on B to A after commit, once on B, never to another tenant", async () => {
    const onA = record(a.hub, "acme");
    const onB = record(b.hub, "acme");
    const otherOnA = record(a.hub, "globex");
    const acmeB = await b.hub.tenant<LogDB>("acme");
    let seenInside = -1;
    await acmeB.transaction(async (trx) => {
      await trx.insertInto("log").values({ body: "one" }).execute();
      acmeB.broadcast("noted", { body: "one", nested: { list: [1, "two", null] } });
      // Time enough for an early NOTIFY to arrive, if it were sent outside the transaction.
      await sql`select pg_sleep(0.3)`.execute(trx);
      seenInside = onA.length;
    });
    expect(seenInside).toBe(0);
    await waitFor("the event on A", () => onA.length > 0);
    expect(onA).toEqual([["noted", { body: "one", nested: { list: [1, "two", null] } }]]);
    // B delivered it at commit, and drops its own echo: a later event from A arrives after it.
    const acmeA = await a.hub.tenant<LogDB>("acme");
    await acmeA.transaction(async () => acmeA.broadcast("fence"));
    await waitFor("the fence on B", () => named(onB, "fence").length > 0);
    expect(onB).toEqual([
      ["noted", { body: "one", nested: { list: [1, "two", null] } }],
      ["fence", undefined],
    ]);
    expect(otherOnA).toEqual([]);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("never sends the events of a rolled-back transaction", async () => {
    const onA = record(a.hub, "acme");
    const acmeB = await b.hub.tenant<LogDB>("acme");
    await expect(
      acmeB.transaction(async (trx) => {
        await trx.insertInto("log").values({ body: "rolled back" }).execute();
        acmeB.broadcast("rolled", { n: 1 });
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    await acmeB.transaction(async (trx) => {
      await trx.insertInto("log").values({ body: "kept" }).execute();
      acmeB.broadcast("kept", { n: 2 });
    });
    // Commit order: a rolled-back event, had it been sent, would have arrived first.
    await waitFor("the kept event", () => named(onA, "kept").length > 0);
    expect(onA).toEqual([["kept", { n: 2 }]]);
  });

  it("delivers in commit order under concurrent transactions on one tenant from two processes", async () => {
    const c = await node(); // an observer: every event it gets comes from another process
    const onC = record(c.hub, "acme");
    const onA = record(a.hub, "acme");
    const onB = record(b.hub, "acme");
    const otherOnC = record(c.hub, "globex");
    const acmeA = await a.hub.tenant<LogDB>("acme");
    const acmeB = await b.hub.tenant<LogDB>("acme");
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      for (const [handle, who] of [
        [acmeA, "a"],
        [acmeB, "b"],
      ] as const) {
        writes.push(
          handle.transaction(async (trx) => {
            // Ids come from a sequence under the tenant's lock: their order is the commit order.
            const row = await trx
              .insertInto("log")
              .values({ body: `${who}${i}` })
              .returning("id")
              .executeTakeFirstOrThrow();
            handle.broadcast("ordered", { id: row.id, who, i });
            handle.broadcast("ordered-twice", { id: row.id });
          }),
        );
      }
    }
    await Promise.all(writes);
    await waitFor("60 ordered events on C", () => named(onC, "ordered-twice").length === 60);
    const ids = named(onC, "ordered").map((p) => (p as { id: number }).id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(60);
    // Two events of one transaction stay together and in order.
    const pairs = onC.filter(([n]) => n.startsWith("ordered"));
    for (let k = 0; k < pairs.length; k += 2) {
      expect(pairs[k]![0]).toBe("ordered");
      expect(pairs[k + 1]).toEqual(["ordered-twice", { id: (pairs[k]![1] as { id: number }).id }]);
    }
    // B sees A's 30 and its own 30, each once; the ones from A in A's commit order.
    await waitFor("60 ordered events on B", () => named(onB, "ordered-twice").length === 60);
    const onBIds = named(onB, "ordered").map((p) => (p as { id: number }).id);
    expect(new Set(onBIds).size).toBe(60);
    const fromA = named(onB, "ordered")
      .filter((p) => (p as { who: string }).who === "a")
      .map((p) => (p as { id: number }).id);
    expect(fromA).toEqual([...fromA].sort((x, y) => x - y));
    // A too (so nothing of this test is still on its way when the next one starts).
    await waitFor("60 ordered events on A", () => named(onA, "ordered-twice").length === 60);
    const fromB = named(onA, "ordered")
      .filter((p) => (p as { who: string }).who === "b")
      .map((p) => (p as { id: number }).id);
    expect(fromB).toHaveLength(30);
    expect(fromB).toEqual([...fromB].sort((x, y) => x - y));
    expect(otherOnC).toEqual([]);
    expect(c.errors).toEqual([]);
  });

  it("carries a payload over 8000 bytes intact (through the outbox), in order with small ones, and prunes it", async () => {
    const onA = record(a.hub, "acme");
    const acmeB = await b.hub.tenant<LogDB>("acme");
    const big = {
      text: "ünïcode 🏢 ".repeat(2000),
      list: Array.from({ length: 500 }, (_, i) => ({ i, s: `item ${i}` })),
    };
    expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(8000);
    await acmeB.transaction(async (trx) => {
      await trx.insertInto("log").values({ body: "big" }).execute();
      acmeB.broadcast("before", { n: 1 });
      acmeB.broadcast("big", big);
      acmeB.broadcast("after", { n: 2 });
    });
    // Outside a transaction too (sent at once).
    acmeB.broadcast("big-standalone", big);
    await waitFor("the standalone big event", () => named(onA, "big-standalone").length > 0);
    const mine = new Set(["before", "big", "after", "big-standalone"]);
    expect(onA.map(([n]) => n).filter((n) => mine.has(n))).toEqual([
      "before",
      "big",
      "after",
      "big-standalone",
    ]);
    expect(named(onA, "big")).toEqual([big]);
    expect(named(onA, "big-standalone")).toEqual([big]);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Every message is in the outbox (for replay); these two were notified by id only.
      const count = async (where = "true") =>
        Number(
          (await client.query(`select count(*) as n from tenantbase.events_outbox where ${where}`))
            .rows[0].n,
        );
      expect(await count("octet_length(message) > 8000")).toBe(2);
      const all = await count();
      expect(all).toBeGreaterThan(2);
      expect(await b.driver.events!.prune(0)).toBe(all);
      expect(await count()).toBe(0);
    } finally {
      await client.end();
    }
    expect(a.errors).toEqual([]);
  });

  it("reports a lost LISTEN connection, reconnects, and delivers again", async () => {
    const onA = record(a.hub, "acme");
    const transport = a.driver.events!;
    const before = transport.connects;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "select pg_terminate_backend(pid) as done from pg_stat_activity where datname = current_database() and application_name = $1",
        [LISTENER_APPLICATION_NAME],
      );
      // One listener per hub: a, b and the observer.
      expect(rows.length).toBe(nodes.length);
    } finally {
      await client.end();
    }
    await waitFor("the loss reported", () =>
      a.errors.find((e) => e.context.includes("lost the LISTEN connection")),
    );
    await waitFor("A listening again", () => transport.connects > before && transport.listening);
    for (const n of nodes)
      await waitFor("every hub listening again", () => n.driver.events!.listening);
    const acmeB = await b.hub.tenant<LogDB>("acme");
    await acmeB.transaction(async () => acmeB.broadcast("again", { n: 3 }));
    await waitFor("the event after reconnecting", () => named(onA, "again").length > 0);
    expect(named(onA, "again")).toEqual([{ n: 3 }]);
  });

  it("replays what was committed while a LISTEN connection was down: every event once, in commit order, also one that took its id first", async () => {
    const onA = record(a.hub, "acme");
    const otherOnA = record(a.hub, "globex");
    const transport = a.driver.events!;
    const acmeB = await b.hub.tenant<LogDB>("acme");
    const write = (n: number) =>
      acmeB.transaction(async (trx) => {
        await trx
          .insertInto("log")
          .values({ body: `replayed ${n}` })
          .execute();
        acmeB.broadcast("replayed", { n });
      });
    // A transaction takes its outbox id now and commits only while A is not listening.
    const late = new pg.Client({ connectionString: db.url });
    await late.connect();
    // On another database: a database cannot disallow connections to itself.
    const adminUrl = new URL(db.url);
    adminUrl.pathname = "/postgres";
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    try {
      await late.query("begin");
      await b.driver.events!.send(
        [JSON.stringify(["another-process", 1, "globex", "late", { n: -1 }])],
        {
          executeQuery: async (query) =>
            ({ rows: (await late.query(query.sql, [...query.parameters])).rows }) as never,
          streamQuery: () => {
            throw new Error("not used");
          },
        },
      );
      for (let n = 0; n < 5; n++) await write(n);
      await waitFor("the first events on A", () => named(onA, "replayed").length === 5);
      const connects = transport.connects;
      const replayed = transport.replayed;
      // Nobody can connect until it is allowed again: the outage lasts as long as this block.
      await admin.query(`alter database "${db.name}" allow_connections false`);
      try {
        await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2",
          [db.name, LISTENER_APPLICATION_NAME],
        );
        await waitFor("A not listening", () => !transport.listening);
        for (let n = 5; n < 25; n++) await write(n);
        await late.query("commit");
      } finally {
        await admin.query(`alter database "${db.name}" allow_connections true`);
      }
      await waitFor(
        "A listening again",
        () => transport.connects > connects && transport.listening,
      );
      for (let n = 25; n < 30; n++) await write(n);
      await waitFor("every event on A", () => named(onA, "replayed").length >= 30);
      await waitFor("the late one on A", () => named(otherOnA, "late").length > 0);
      expect(named(onA, "replayed")).toEqual(Array.from({ length: 30 }, (_, n) => ({ n })));
      expect(named(otherOnA, "late")).toEqual([{ n: -1 }]);
      // 20 writes and the late one came from the outbox, not as notes.
      expect(transport.replayed - replayed).toBe(21);
      for (const n of nodes)
        await waitFor("every hub listening again", () => n.driver.events!.listening);
      // A said it lost the connection (and could not reconnect for a while), nothing else.
      expect(a.errors.map((e) => e.context).filter((c) => !/LISTEN/.test(c))).toEqual([]);
    } finally {
      await late.end().catch(() => {});
      await admin.end();
    }
  });

  it("keeps an event whose payload is not JSON in its process, and says so", async () => {
    const onA = record(a.hub, "acme");
    const onB = record(b.hub, "acme");
    const acmeB = await b.hub.tenant<LogDB>("acme");
    const before = b.errors.length;
    await acmeB.transaction(async () => {
      acmeB.broadcast("not-json", { n: 10n });
      acmeB.broadcast("json", { n: 11 });
    });
    await waitFor("the JSON event on A", () => named(onA, "json").length > 0);
    expect(onA).toEqual([["json", { n: 11 }]]);
    expect(named(onB, "not-json")).toEqual([{ n: 10n }]);
    expect(b.errors.slice(before).map((e) => e.context)).toEqual([
      "event not-json: the payload is not JSON, so it reaches this process's subscribers only",
    ]);
  });
});
