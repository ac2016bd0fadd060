/**
 * Two real `tenantbase serve` processes on one PostgreSQL database: a
 * realtime subscriber on A receives record events written through B, in
 * order, with its rules applied on A, and nothing of another tenant.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ThrowawayDatabase, throwawayDatabase } from "../drivers/pg-fixture.js";
import { killServed, type Served, serveProcess } from "../helpers/serve.js";
import { readSse } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";
import { ADMIN_TOKEN, apiClient, JWT_SECRET, signUp, usersCollection } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tenantbase-multiprocess-"));
let db: ThrowawayDatabase;

/** A serve process on the shared PostgreSQL database, with the same secrets as the others. */
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

/** A raw SSE reader over fetch: every event it got. */
async function openStream(url: string, token: string) {
  const abort = new AbortController();
  const response = await fetch(`${url}/api/realtime`, {
    headers: { authorization: token },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  const { events } = readSse(response);
  const connect = await waitFor("PB_CONNECT", () => events.find((e) => e.event === "PB_CONNECT"));
  const clientId = (JSON.parse(connect.data) as { clientId: string }).clientId;
  return {
    events,
    clientId,
    records: () =>
      events
        .filter((e) => e.event === "posts/*")
        .map((e) => JSON.parse(e.data) as { action: string; record: Record<string, unknown> }),
    close: () => abort.abort(),
  };
}

let a: Served;
let b: Served;

beforeAll(async () => {
  db = await throwawayDatabase();
  a = await serve("a");
});

afterAll(async () => {
  // Their connections must be gone before the database can be dropped.
  await killServed();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("two tenantbase serve processes on one PostgreSQL", () => {
  it("delivers records created through B to A's realtime subscribers, in order, rules applied on A, per tenant", async () => {
    const callA = apiClient(a);
    for (const name of ["acme", "globex"]) {
      expect((await callA("POST", "/api/databases", { body: { name } })).status).toBe(200);
    }
    expect((await callA("POST", "/api/collections", { body: usersCollection })).status).toBe(200);
    const posts = await callA("POST", "/api/collections", {
      body: {
        name: "posts",
        fields: [{ name: "title", type: "text", required: true }],
        listRule: 'title != "secret"',
        viewRule: 'title != "secret"',
        createRule: "",
        updateRule: "",
        deleteRule: "",
      },
    });
    expect(posts.status).toBe(200);
    // B starts once the collections exist (it reads their definitions at start).
    b = await serve("b");
    const callB = apiClient(b);

    // A tenant user of acme (rules apply to it) and a superuser bound to globex, both on A.
    const user = await signUp(callA, "acme", "ann@acme.test");
    const acmeStream = await openStream(a.url, user.token);
    const subscribed = await callA("POST", "/api/realtime", {
      token: user.token,
      body: { clientId: acmeStream.clientId, subscriptions: ["posts/*"] },
    });
    expect(subscribed.status).toBe(204);
    const globexStream = await openStream(a.url, ADMIN_TOKEN);
    const globexSubscribed = await callA("POST", "/api/realtime", {
      tenant: "globex",
      body: { clientId: globexStream.clientId, subscriptions: ["posts/*"] },
    });
    expect(globexSubscribed.status).toBe(204);

    // Writes through B, one after another: their commit order is this order.
    const titles = ["one", "two", "secret", "three", "four", "five", "six", "seven"];
    const ids: string[] = [];
    for (const title of titles) {
      const created = await callB("POST", "/api/collections/posts/records", {
        tenant: "acme",
        body: { title },
      });
      expect(created.status).toBe(200);
      ids.push(created.body.id);
    }
    const updated = await callB("PATCH", `/api/collections/posts/records/${ids[0]}`, {
      tenant: "acme",
      body: { title: "one, edited" },
    });
    expect(updated.status).toBe(200);
    expect(
      (await callB("DELETE", `/api/collections/posts/records/${ids[1]}`, { tenant: "acme" }))
        .status,
    ).toBe(204);

    const expected = [
      ...titles
        .map((title, i) => ({ action: "create", title, id: ids[i] }))
        .filter((e) => e.title !== "secret"),
      { action: "update", title: "one, edited", id: ids[0] },
      { action: "delete", title: "two", id: ids[1] },
    ];
    await waitFor("acme's events on A", () => acmeStream.records().length >= expected.length);
    expect(
      acmeStream
        .records()
        .map((e) => ({ action: e.action, title: e.record.title, id: e.record.id })),
    ).toEqual(expected);
    expect(acmeStream.records()[0]!.record).toMatchObject({
      collectionName: "posts",
      title: "one",
    });

    // globex's subscriber on A got none of it; its own tenant's write through B does reach it.
    const own = await callB("POST", "/api/collections/posts/records", {
      tenant: "globex",
      body: { title: "globex only" },
    });
    expect(own.status).toBe(200);
    await waitFor("globex's event on A", () => globexStream.records().length > 0);
    expect(globexStream.records().map((e) => [e.action, e.record.title, e.record.id])).toEqual([
      ["create", "globex only", own.body.id],
    ]);
    // And acme's subscriber got nothing of globex: a later acme write arrives right after acme's own.
    const fence = await callB("POST", "/api/collections/posts/records", {
      tenant: "acme",
      body: { title: "fence" },
    });
    expect(fence.status).toBe(200);
    await waitFor("the fence on A", () => acmeStream.records().length > expected.length);
    expect(acmeStream.records().map((e) => e.record.title)).toEqual([
      ...expected.map((e) => e.title),
      "fence",
    ]);

    acmeStream.close();
    globexStream.close();
    for (const served of [a, b]) {
      expect(served.output()).not.toContain("event transport");
      served.child.kill("SIGTERM");
      expect(await served.exited).toBe(0);
    }
  });
});
