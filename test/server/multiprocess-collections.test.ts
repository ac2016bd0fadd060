/**
 * Two real `tenantbase serve` processes on one PostgreSQL database, beyond
 * events (multiprocess.test.ts): a collection created, changed or deleted
 * through one is used through the other at once, without a restart (changes
 * from both at the same time included), and the record events committed
 * while a process's LISTEN connection is down reach its subscribers when it
 * is back, replayed from the outbox.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LISTENER_APPLICATION_NAME } from "../../src/drivers/postgres/index.js";
import { type ThrowawayDatabase, throwawayDatabase } from "../drivers/pg-fixture.js";
import { killServed, type Served, serveProcess } from "../helpers/serve.js";
import { readSse } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";
import { ADMIN_TOKEN, type ApiResponse, apiClient, type Call, JWT_SECRET } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tenantbase-multiprocess-collections-"));
let db: ThrowawayDatabase;

function serve(name: string): Promise<Served> {
  return serveProcess({
    env: {
      TENANTBASE_DATABASE_URL: db.url,
      TENANTBASE_DATA: join(dir, name),
      TENANTBASE_ADMIN_TOKEN: ADMIN_TOKEN,
      TENANTBASE_JWT_SECRET: JWT_SECRET,
    },
  });
}

/** Calls until `accept` takes the answer (a deadline, no fixed sleeps); returns that answer. */
async function until(
  what: string,
  call: () => Promise<ApiResponse>,
  accept: (response: ApiResponse) => boolean,
  timeoutMs = 10_000,
): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await call();
    if (accept(response)) return response;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}: last ${response.status} ${JSON.stringify(response.body)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A raw SSE reader over fetch, as superuser, subscribed to `topics` of `tenant`. */
async function subscribe(served: Served, tenant: string, topics: string[]) {
  const abort = new AbortController();
  const response = await fetch(`${served.url}/api/realtime`, {
    headers: { authorization: ADMIN_TOKEN },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  const { events } = readSse(response);
  const connect = await waitFor("PB_CONNECT", () => events.find((e) => e.event === "PB_CONNECT"));
  const clientId = (JSON.parse(connect.data) as { clientId: string }).clientId;
  const subscribed = await apiClient(served)("POST", "/api/realtime", {
    tenant,
    body: { clientId, subscriptions: topics },
  });
  expect(subscribed.status).toBe(204);
  return {
    records: (topic: string) =>
      events
        .filter((e) => e.event === topic)
        .map((e) => JSON.parse(e.data) as { action: string; record: Record<string, unknown> }),
    close: () => abort.abort(),
  };
}

const fieldNames = (response: ApiResponse) =>
  (response.body?.fields ?? []).map((f: { name: string }) => f.name);

let a: Served;
let b: Served;
let callA: Call;
let callB: Call;

beforeAll(async () => {
  db = await throwawayDatabase();
  // Both start before any collection exists.
  [a, b] = await Promise.all([serve("a"), serve("b")]);
  callA = apiClient(a);
  callB = apiClient(b);
  expect((await callA("POST", "/api/databases", { body: { name: "acme" } })).status).toBe(200);
});

afterAll(async () => {
  await killServed();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("collections and missed events across two tenantbase serve processes on PostgreSQL", () => {
  it("uses a collection created, changed and deleted through one process on the other at once", async () => {
    const created = await callA("POST", "/api/collections", {
      body: {
        name: "notes",
        fields: [{ name: "title", type: "text", required: true }],
        listRule: "",
        viewRule: "",
        createRule: "",
        updateRule: "",
        deleteRule: "",
      },
    });
    expect(created.status).toBe(200);

    // B knows it without a restart: its API, its records, its realtime.
    await until(
      "notes on B",
      () => callB("GET", "/api/collections/notes"),
      (r) => r.status === 200,
    );
    const fromB = await callB("POST", "/api/collections/notes/records", {
      tenant: "acme",
      body: { title: "from B" },
    });
    expect(fromB.status).toBe(200);
    const listedOnB = await callB("GET", "/api/collections/notes/records", { tenant: "acme" });
    expect(listedOnB.status).toBe(200);
    expect(listedOnB.body.items.map((r: { title: string }) => r.title)).toEqual(["from B"]);
    const onB = await subscribe(b, "acme", ["notes/*"]);
    const fromA = await callA("POST", "/api/collections/notes/records", {
      tenant: "acme",
      body: { title: "from A" },
    });
    expect(fromA.status).toBe(200);
    await waitFor("A's record on B's stream", () => onB.records("notes/*").length > 0);
    expect(onB.records("notes/*").map((e) => [e.action, e.record.title, e.record.id])).toEqual([
      ["create", "from A", fromA.body.id],
    ]);

    // A new field added through A: B validates, stores and streams it.
    const changed = await callA("PATCH", "/api/collections/notes", {
      body: { fields: [{ name: "tag", type: "text" }] },
    });
    expect(changed.status).toBe(200);
    await until(
      "the tag field on B",
      () => callB("GET", "/api/collections/notes"),
      (r) => fieldNames(r).includes("tag"),
    );
    const tagged = await callB("POST", "/api/collections/notes/records", {
      tenant: "acme",
      body: { title: "tagged", tag: "t1" },
    });
    expect(tagged.status).toBe(200);
    expect(tagged.body.tag).toBe("t1");
    const viewedOnA = await callA("GET", `/api/collections/notes/records/${tagged.body.id}`, {
      tenant: "acme",
    });
    expect(viewedOnA.body).toMatchObject({ title: "tagged", tag: "t1" });
    await waitFor("B's own tagged record on its stream", () => onB.records("notes/*").length > 1);
    expect(onB.records("notes/*")[1]!.record).toMatchObject({ title: "tagged", tag: "t1" });

    // Changes through both at the same time: both apply, one after the other, everywhere.
    const [x, y] = await Promise.all([
      callA("PATCH", "/api/collections/notes", { body: { fields: [{ name: "x", type: "text" }] } }),
      callB("PATCH", "/api/collections/notes", { body: { fields: [{ name: "y", type: "text" }] } }),
    ]);
    expect([x.status, y.status]).toEqual([200, 200]);
    for (const call of [callA, callB]) {
      await until(
        "both fields",
        () => call("GET", "/api/collections/notes"),
        (r) => fieldNames(r).includes("x") && fieldNames(r).includes("y"),
      );
      const both = await call("POST", "/api/collections/notes/records", {
        tenant: "acme",
        body: { title: "both", x: "1", y: "2" },
      });
      expect(both.status).toBe(200);
      expect(both.body).toMatchObject({ x: "1", y: "2" });
    }

    // A rules-only change (no migration) through B reaches A.
    const ruled = await callB("PATCH", "/api/collections/notes", {
      body: { listRule: 'title != "hidden"' },
    });
    expect(ruled.status).toBe(200);
    await until(
      "the new list rule on A",
      () => callA("GET", "/api/collections/notes"),
      (r) => r.body?.listRule === 'title != "hidden"',
    );

    // Deleted through A: gone on B.
    expect((await callA("DELETE", "/api/collections/notes")).status).toBe(204);
    await until(
      "notes gone on B",
      () => callB("GET", "/api/collections/notes"),
      (r) => r.status === 404,
    );
    const afterDelete = await callB("POST", "/api/collections/notes/records", {
      tenant: "acme",
      body: { title: "too late" },
    });
    expect(afterDelete.status).toBe(404);
    onB.close();
    for (const served of [a, b]) {
      expect(served.output()).not.toContain("event transport");
      expect(served.output()).not.toContain("peer signal");
    }
  });

  it("replays to A's subscribers the record events B committed while A's LISTEN connection was down", async () => {
    expect(
      (
        await callA("POST", "/api/collections", {
          body: { name: "logs", fields: [{ name: "n", type: "number" }], createRule: "" },
        })
      ).status,
    ).toBe(200);
    await until(
      "logs on B",
      () => callB("GET", "/api/collections/logs"),
      (r) => r.status === 200,
    );
    const onA = await subscribe(a, "acme", ["logs/*"]);
    const write = async (n: number) => {
      const created = await callB("POST", "/api/collections/logs/records", {
        tenant: "acme",
        body: { n },
      });
      expect(created.status).toBe(200);
    };
    for (let n = 0; n < 3; n++) await write(n);
    await waitFor("the first events on A", () => onA.records("logs/*").length === 3);

    // No new connection to the database while B writes: the listeners stay down meanwhile.
    const adminUrl = new URL(db.url);
    adminUrl.pathname = "/postgres";
    const admin = new pg.Client({ connectionString: adminUrl.toString() });
    await admin.connect();
    try {
      await admin.query(`alter database "${db.name}" allow_connections false`);
      try {
        const { rows } = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name = $2",
          [db.name, LISTENER_APPLICATION_NAME],
        );
        expect(rows.length).toBe(2);
        await waitFor("A's loss reported", () => a.output().includes("lost the LISTEN connection"));
        for (let n = 3; n < 13; n++) await write(n);
      } finally {
        await admin.query(`alter database "${db.name}" allow_connections true`);
      }
    } finally {
      await admin.end();
    }
    for (let n = 13; n < 16; n++) await write(n);
    await waitFor("every event on A", () => onA.records("logs/*").length >= 16);
    expect(onA.records("logs/*").map((e) => [e.action, e.record.n])).toEqual(
      Array.from({ length: 16 }, (_, n) => ["create", n]),
    );
    onA.close();
    for (const served of [a, b]) {
      // Only the loss itself (and the refused reconnects) were reported.
      const reported = served
        .output()
        .split("\n")
        .filter((line) => line.includes("event transport"));
      expect(reported.every((line) => /LISTEN/.test(line))).toBe(true);
      served.child.kill("SIGTERM");
      expect(await served.exited).toBe(0);
    }
  });
});
