import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventSource } from "eventsource";
import { pino } from "pino";
import PocketBase from "pocketbase";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForbiddenError, TenantbaseClient } from "../../src/client/index.js";
import { createTenantbase, sqlite } from "../../src/index.js";
import { parseSubscription } from "../../src/server/apis/realtime.js";
import { realtimeStats, startServer } from "../../src/server/index.js";
import { readSse, type SseEvent } from "../helpers/sse.js";
import { waitFor } from "../helpers/wait.js";
import {
  ADMIN_TOKEN,
  apiClient,
  type Call,
  JWT_SECRET,
  signUp,
  startTestServer,
  type TestServer,
  usersCollection,
} from "./helpers.js";

// Node 20 has no EventSource; the pocketbase SDK uses the global one.
(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

/** A raw SSE reader over fetch: every event it got, and whether the stream ended. */
async function openStream(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const response = await fetch(`${url}/api/realtime`, { headers, signal: abort.signal });
  const events: SseEvent[] = [];
  const state = { ended: false, status: response.status, body: undefined as unknown, pings: 0 };
  if (response.status !== 200) {
    state.body = await response.json();
    state.ended = true;
    return { events, state, clientId: "", close: () => abort.abort(), response };
  }
  readSse(response, { events, state });
  const connect = await waitFor("PB_CONNECT", () => events.find((e) => e.event === "PB_CONNECT"));
  return { events, state, clientId: connect.id, close: () => abort.abort(), response };
}

function parsed(events: SseEvent[], name: string): any[] {
  return events.filter((e) => e.event === name).map((e) => JSON.parse(e.data));
}

async function subscribe(
  call: Call,
  clientId: string,
  subscriptions: string[],
  options: { token?: string | null; tenant?: string } = {},
) {
  return call("POST", "/api/realtime", { body: { clientId, subscriptions }, ...options });
}

/** The official SDK as a superuser: the admin token, and x-dbname added in beforeSend. */
function superuserSdk(url: string, tenant: string): PocketBase {
  const pb = new PocketBase(url);
  pb.autoCancellation(false);
  pb.authStore.save(ADMIN_TOKEN);
  pb.beforeSend = (u, options) => {
    options.headers = { ...(options.headers as Record<string, string>), "x-dbname": tenant };
    return { url: u, options };
  };
  return pb;
}

const notesCollection = {
  name: "notes",
  fields: [
    { name: "title", type: "text", required: true },
    { name: "owner", type: "text" },
    { name: "secret", type: "text", hidden: true },
  ],
  listRule: "owner = @request.auth.id",
  viewRule: "owner = @request.auth.id",
  createRule: "",
  updateRule: "",
  deleteRule: "",
};

const openCollection = {
  name: "posts",
  fields: [
    { name: "title", type: "text", required: true },
    { name: "views", type: "number" },
  ],
  listRule: "",
  viewRule: "",
  createRule: "",
  updateRule: "",
  deleteRule: "",
};

const lockedCollection = {
  name: "ledger",
  fields: [{ name: "amount", type: "number" }],
  listRule: null,
  viewRule: null,
  createRule: null,
  updateRule: null,
  deleteRule: null,
};

describe("realtime", () => {
  let server: TestServer;
  let call: Call;
  let ann: { token: string; record: any };
  let bob: { token: string; record: any };
  let gina: { token: string; record: any };

  beforeAll(async () => {
    server = await startTestServer();
    call = apiClient(server);
    for (const name of ["acme", "globex"]) {
      expect((await call("POST", "/api/databases", { body: { name } })).status).toBe(200);
    }
    for (const collection of [usersCollection, notesCollection, openCollection, lockedCollection]) {
      expect((await call("POST", "/api/collections", { body: collection })).status).toBe(200);
    }
    ann = await signUp(call, "acme", "ann@acme.io");
    bob = await signUp(call, "acme", "bob@acme.io");
    gina = await signUp(call, "globex", "gina@globex.io");
  });
  afterAll(() => server.stop());

  it("sends PB_CONNECT like PocketBase: id and data.clientId", async () => {
    const stream = await openStream(server.url);
    expect(stream.response.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.response.headers.get("connection")).toBe("close");
    const connect = stream.events[0]!;
    expect(connect.event).toBe("PB_CONNECT");
    expect(connect.id.length).toBeGreaterThanOrEqual(20);
    expect(JSON.parse(connect.data)).toEqual({ clientId: connect.id });
    // Unknown client ids and bad bodies are clear errors.
    const unknown = await subscribe(call, "nope", ["posts/*"], { tenant: "acme" });
    expect(unknown.status).toBe(404);
    const bad = await call("POST", "/api/realtime", {
      tenant: "acme",
      body: { clientId: stream.clientId, subscriptions: "posts/*" },
    });
    expect(bad.status).toBe(400);
    const noTenant = await subscribe(call, stream.clientId, ["posts/*"]);
    expect(noTenant.status).toBe(400);
    expect(noTenant.body.message).toContain("x-dbname");
    stream.close();
  });

  it("the official pocketbase SDK: subscribe('*') and subscribe(id) get create, update, delete", async () => {
    const pb = superuserSdk(server.url, "acme");
    const all: any[] = [];
    const one: any[] = [];
    const unsubscribeAll = await pb.collection("posts").subscribe("*", (e) => all.push(e));
    const created = await pb.collection("posts").create({ title: "first", views: 1 });
    const other = await pb.collection("posts").create({ title: "second" });
    const unsubscribeOne = await pb
      .collection("posts")
      .subscribe(created.id, (e) => one.push(e), { fields: "id,title" });
    await pb.collection("posts").update(created.id, { title: "first, edited" });
    await pb.collection("posts").delete(other.id);
    await waitFor("four events on posts/*", () => all.length >= 4);
    expect(all.map((e) => [e.action, e.record.id])).toEqual([
      ["create", created.id],
      ["create", other.id],
      ["update", created.id],
      ["delete", other.id],
    ]);
    expect(all[0].record).toMatchObject({
      collectionName: "posts",
      title: "first",
      views: 1,
      id: created.id,
    });
    expect(all[2].record.title).toBe("first, edited");
    await waitFor("the update on posts/<id>", () => one.length >= 1);
    // The id topic's options (?options={"query":{"fields":...}}) applied: fields picked.
    expect(one).toEqual([{ action: "update", record: { id: created.id, title: "first, edited" } }]);
    await unsubscribeOne();
    await unsubscribeAll();
    await waitFor("the SDK disconnected", () => !pb.realtime.isConnected);
  });

  it("filters by the list rule for each subscriber, and hides hidden fields", async () => {
    const annSdk = new PocketBase(server.url);
    annSdk.authStore.save(ann.token, ann.record);
    const bobSdk = new PocketBase(server.url);
    bobSdk.authStore.save(bob.token, bob.record);
    const annSeen: any[] = [];
    const bobSeen: any[] = [];
    const bobLedger: any[] = [];
    const bobPosts: any[] = [];
    await annSdk.collection("notes").subscribe("*", (e) => annSeen.push(e));
    await bobSdk.collection("notes").subscribe("*", (e) => bobSeen.push(e));
    await bobSdk.collection("ledger").subscribe("*", (e) => bobLedger.push(e));
    await bobSdk.collection("posts").subscribe("*", (e) => bobPosts.push(e));
    const admin = superuserSdk(server.url, "acme");
    const annNote = await admin
      .collection("notes")
      .create({ title: "ann's", owner: ann.record.id, secret: "s3" });
    await admin.collection("notes").create({ title: "bob's", owner: bob.record.id });
    await admin.collection("ledger").create({ amount: 10 }); // listRule null: superusers only
    // A sentinel after the others: once bob sees it, everything before it was processed.
    const sentinel = await admin.collection("posts").create({ title: "sentinel" });
    await waitFor("bob's sentinel", () => bobPosts.some((e) => e.record.id === sentinel.id));
    await waitFor("ann's note", () => annSeen.length >= 1);
    expect(annSeen.map((e) => e.record.title)).toEqual(["ann's"]);
    expect(annSeen[0].record.id).toBe(annNote.id);
    expect("secret" in annSeen[0].record).toBe(false);
    expect(bobSeen.map((e) => e.record.title)).toEqual(["bob's"]);
    expect(bobLedger).toEqual([]);
    await annSdk.realtime.unsubscribe();
    await bobSdk.realtime.unsubscribe();
  });

  it("shows auth records as the records API does: no password or tokenKey, email by visibility", async () => {
    const stream = await openStream(server.url, { authorization: ADMIN_TOKEN, "x-dbname": "acme" });
    const annStream = await openStream(server.url, { authorization: ann.token });
    expect((await subscribe(call, stream.clientId, ["users/*"], { tenant: "acme" })).status).toBe(
      204,
    );
    expect(
      (await subscribe(call, annStream.clientId, ["users/*"], { token: ann.token })).status,
    ).toBe(204);
    const patched = await call("PATCH", `/api/collections/users/records/${ann.record.id}`, {
      tenant: "acme",
      body: { name: "Ann" },
    });
    expect(patched.status).toBe(200);
    await waitFor("superuser's users event", () => parsed(stream.events, "users/*").length >= 1);
    await waitFor("ann's users event", () => parsed(annStream.events, "users/*").length >= 1);
    const [forAdmin] = parsed(stream.events, "users/*");
    const [forAnn] = parsed(annStream.events, "users/*");
    for (const message of [forAdmin, forAnn]) {
      expect(message.action).toBe("update");
      expect(message.record.name).toBe("Ann");
      expect(message.record).not.toHaveProperty("password");
      expect(message.record).not.toHaveProperty("tokenKey");
    }
    expect(forAdmin.record.email).toBe("ann@acme.io");
    expect(forAnn.record.email).toBe("ann@acme.io"); // her own record
    stream.close();
    annStream.close();
  });

  it("a subscription filter from the SDK's options applies, and a bad one is a 400", async () => {
    const pb = superuserSdk(server.url, "acme");
    const seen: any[] = [];
    await pb.collection("posts").subscribe("*", (e) => seen.push(e), { filter: "views > 5" });
    const admin = superuserSdk(server.url, "acme");
    await admin.collection("posts").create({ title: "few", views: 1 });
    await admin.collection("posts").create({ title: "many", views: 50 });
    await waitFor("the filtered event", () => seen.length >= 1);
    expect(seen.map((e) => e.record.title)).toEqual(["many"]);
    await pb.realtime.unsubscribe();

    const stream = await openStream(server.url);
    const bad = await subscribe(
      call,
      stream.clientId,
      [`posts/*?options=${encodeURIComponent(JSON.stringify({ query: { filter: "views >" } }))}`],
      { tenant: "acme" },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("Invalid filter");
    stream.close();
  });

  it("never delivers another tenant's events, and refuses a token naming another tenant", async () => {
    const annStream = await openStream(server.url, { authorization: ann.token });
    const ginaStream = await openStream(server.url, { authorization: gina.token });
    const adminGlobex = await openStream(server.url);
    expect(
      (await subscribe(call, annStream.clientId, ["posts/*"], { token: ann.token })).status,
    ).toBe(204);
    expect(
      (await subscribe(call, ginaStream.clientId, ["posts/*"], { token: gina.token })).status,
    ).toBe(204);
    expect(
      (await subscribe(call, adminGlobex.clientId, ["posts/*"], { tenant: "globex" })).status,
    ).toBe(204);

    // Hostile: tenant A's token with x-dbname B, at subscribe and at connect.
    const hostile = await openStream(server.url);
    const cross = await subscribe(call, hostile.clientId, ["posts/*"], {
      token: ann.token,
      tenant: "globex",
    });
    expect(cross.status).toBe(403);
    const crossConnect = await openStream(server.url, {
      authorization: ann.token,
      "x-dbname": "globex",
    });
    expect(crossConnect.state.status).toBe(403);
    // A client bound to globex cannot be moved to acme, nor taken over by another identity.
    const moved = await subscribe(call, adminGlobex.clientId, ["posts/*"], { tenant: "acme" });
    expect(moved.status).toBe(403);
    const taken = await subscribe(call, ginaStream.clientId, ["posts/*"], { token: ann.token });
    expect(taken.status).toBe(403);
    hostile.close();

    await call("POST", "/api/collections/posts/records", {
      tenant: "acme",
      body: { title: "acme only" },
    });
    await call("POST", "/api/collections/posts/records", {
      tenant: "globex",
      body: { title: "globex only" },
    });
    const titles = (events: SseEvent[]) => parsed(events, "posts/*").map((m) => m.record.title);
    await waitFor("ann's event", () => titles(annStream.events).length >= 1);
    await waitFor("gina's event", () => titles(ginaStream.events).length >= 1);
    await waitFor("globex superuser's event", () => titles(adminGlobex.events).length >= 1);
    // A second write per tenant, to be sure nothing else was on its way.
    await call("POST", "/api/collections/posts/records", { tenant: "acme", body: { title: "a2" } });
    await call("POST", "/api/collections/posts/records", {
      tenant: "globex",
      body: { title: "g2" },
    });
    await waitFor("ann's second", () => titles(annStream.events).length >= 2);
    await waitFor("gina's second", () => titles(ginaStream.events).length >= 2);
    await waitFor("superuser's second", () => titles(adminGlobex.events).length >= 2);
    expect(titles(annStream.events)).toEqual(["acme only", "a2"]);
    expect(titles(ginaStream.events)).toEqual(["globex only", "g2"]);
    expect(titles(adminGlobex.events)).toEqual(["globex only", "g2"]);
    for (const s of [annStream, ginaStream, adminGlobex]) s.close();
  });

  it("never crosses tenants with many tenants and many subscribers writing at once", async () => {
    const tenants = Array.from({ length: 12 }, (_, i) => `crowd-${i}`);
    for (const name of tenants) {
      expect((await call("POST", "/api/databases", { body: { name } })).status).toBe(200);
    }
    const streams = await Promise.all(
      tenants.flatMap((tenant) =>
        Array.from({ length: 4 }, async () => {
          const stream = await openStream(server.url);
          const res = await subscribe(call, stream.clientId, ["posts/*", "events/crowd"], {
            tenant,
          });
          expect(res.status).toBe(204);
          return { tenant, stream };
        }),
      ),
    );
    // Every tenant writes five records and broadcasts one event, all tenants at once.
    await Promise.all(
      tenants.map(async (tenant) => {
        for (let n = 0; n < 5; n++) {
          await call("POST", "/api/collections/posts/records", {
            tenant,
            body: { title: `${tenant}#${n}` },
          });
        }
        const handle = await server.hub.tenant(tenant);
        handle.broadcast("crowd", { from: tenant });
      }),
    );
    for (const { tenant, stream } of streams) {
      await waitFor(`${tenant}'s events`, () => parsed(stream.events, "events/crowd").length >= 1);
      const titles = parsed(stream.events, "posts/*").map((m) => m.record.title);
      expect(titles).toEqual([0, 1, 2, 3, 4].map((n) => `${tenant}#${n}`));
      expect(parsed(stream.events, "events/crowd")).toEqual([{ from: tenant }]);
      stream.close();
    }
  });

  it("delivers events broadcast in a transaction on events/<name>, after commit, never on rollback", async () => {
    const pb = superuserSdk(server.url, "acme");
    const seen: unknown[] = [];
    await pb.realtime.subscribe("events/invoicePaid", (data) => seen.push(data));
    const acme = await server.hub.tenant("acme");
    await acme
      .transaction(async () => {
        acme.broadcast("invoicePaid", { invoice: "rolled back" });
        throw new Error("roll back");
      })
      .catch(() => {});
    await acme.transaction(async (trx) => {
      await trx.selectFrom("posts").select("id").execute();
      acme.broadcast("invoicePaid", { invoice: 42, amount: 9.5 });
      // Not yet: published after commit.
      expect(seen).toEqual([]);
    });
    await waitFor("the event", () => seen.length >= 1);
    expect(seen).toEqual([{ invoice: 42, amount: 9.5 }]);
    // Events are for authenticated subscribers; the "record" event is reserved.
    const anonymous = await openStream(server.url);
    const denied = await subscribe(call, anonymous.clientId, ["events/invoicePaid"], {
      token: null,
      tenant: "acme",
    });
    expect(denied.status).toBe(403);
    const reserved = await subscribe(call, anonymous.clientId, ["events/record"], {
      tenant: "acme",
    });
    expect(reserved.status).toBe(400);
    anonymous.close();
    await pb.realtime.unsubscribe();
  });
});

describe("subscription strings", () => {
  it("parses topics and the SDK's ?options= suffix", () => {
    const options = encodeURIComponent(
      JSON.stringify({ query: { filter: 'a = "b"', n: 5 }, headers: { "x-k": "v" } }),
    );
    expect(parseSubscription(`posts/*?options=${options}`)).toMatchObject({
      raw: `posts/*?options=${options}`,
      kind: "record",
      collection: "posts",
      recordId: "*",
      query: { filter: 'a = "b"', n: "5" },
      headers: { "x-k": "v" },
    });
    expect(parseSubscription("posts/abc123")).toMatchObject({ kind: "record", recordId: "abc123" });
    expect(parseSubscription("events/employeeAdded")).toMatchObject({
      kind: "event",
      event: "employeeAdded",
    });
    expect(parseSubscription("PB_CONNECT").kind).toBe("other");
    expect(parseSubscription("a/b/c").kind).toBe("other");
    for (const bad of ["", "posts/*\nevent:x", "events/", "events/record", "posts/*?options={"]) {
      expect(() => parseSubscription(bad)).toThrow();
    }
  });
});

describe("realtime limits", () => {
  it("ends the stream when the tenant token expires", async () => {
    const server = await startTestServer({ tokenTtlSeconds: 4 });
    try {
      const call = apiClient(server);
      await call("POST", "/api/databases", { body: { name: "acme" } });
      await call("POST", "/api/collections", { body: usersCollection });
      await call("POST", "/api/collections", { body: openCollection });
      const ann = await signUp(call, "acme", "ann@acme.io");
      const stream = await openStream(server.url, { authorization: ann.token });
      expect(
        (await subscribe(call, stream.clientId, ["posts/*"], { token: ann.token })).status,
      ).toBe(204);
      await waitFor("the stream to end", () => stream.state.ended, 30_000);
      const [last] = parsed(stream.events, "PB_DISCONNECT");
      expect(last.reason).toBe("token_expired");
      expect(realtimeStats(server.app)?.disconnects.token_expired).toBe(1);
      // And the expired token cannot subscribe again.
      const again = await openStream(server.url);
      expect(
        (await subscribe(call, again.clientId, ["posts/*"], { token: ann.token })).status,
      ).toBe(401);
      again.close();
    } finally {
      await server.stop();
    }
  });

  it("ends a tenant user's stream when a password change revokes the token, or the user is deleted", async () => {
    const server = await startTestServer();
    try {
      const call = apiClient(server);
      await call("POST", "/api/databases", { body: { name: "acme" } });
      await call("POST", "/api/collections", { body: usersCollection });
      await call("POST", "/api/collections", { body: openCollection });
      const ann = await signUp(call, "acme", "ann@acme.io");
      const bob = await signUp(call, "acme", "bob@acme.io");
      const annStream = await openStream(server.url, { authorization: ann.token });
      const bobStream = await openStream(server.url, { authorization: bob.token });
      for (const [stream, user] of [
        [annStream, ann],
        [bobStream, bob],
      ] as const) {
        expect(
          (await subscribe(call, stream.clientId, ["posts/*"], { token: user.token })).status,
        ).toBe(204);
      }
      // A change that keeps the token valid does not end the stream.
      await call("PATCH", `/api/collections/users/records/${ann.record.id}`, {
        tenant: "acme",
        body: { name: "Ann" },
      });
      await call("PATCH", `/api/collections/users/records/${ann.record.id}`, {
        tenant: "acme",
        body: { password: "another-password", passwordConfirm: "another-password" },
      });
      await call("DELETE", `/api/collections/users/records/${bob.record.id}`, { tenant: "acme" });
      await waitFor("ann's stream to end", () => annStream.state.ended);
      await waitFor("bob's stream to end", () => bobStream.state.ended);
      for (const stream of [annStream, bobStream]) {
        expect(parsed(stream.events, "PB_DISCONNECT").map((d) => d.reason)).toEqual([
          "auth_revoked",
        ]);
      }
      expect(realtimeStats(server.app)?.disconnects.auth_revoked).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it("pings idle streams and closes clients without subscriptions", async () => {
    const server = await startTestServer({
      realtime: { idleTimeoutMs: 1500, pingIntervalMs: 100 },
    });
    try {
      const call = apiClient(server);
      await call("POST", "/api/databases", { body: { name: "acme" } });
      const stream = await openStream(server.url);
      const subscribed = await openStream(server.url);
      expect((await subscribe(call, subscribed.clientId, ["x/*"], { tenant: "acme" })).status).toBe(
        204,
      );
      await waitFor("a keep-alive ping", () => stream.state.pings >= 1);
      await waitFor("the idle stream to end", () => stream.state.ended);
      expect(parsed(stream.events, "PB_DISCONNECT")[0].reason).toBe("idle");
      // The subscribed one stays, and keeps getting pings after the other idled out.
      const pings = subscribed.state.pings;
      await waitFor("more pings", () => subscribed.state.pings > pings);
      expect(subscribed.state.ended).toBe(false);
      expect(realtimeStats(server.app)?.clients).toBe(1);
      subscribed.close();
    } finally {
      await server.stop();
    }
  });

  it("disconnects a slow consumer while the writer keeps going, with bounded queues", async () => {
    const maxQueuedBytes = 512 * 1024;
    const server = await startTestServer({
      realtime: { maxQueuedMessages: 50, maxQueuedBytes, closeGraceMs: 120_000 },
    });
    try {
      const call = apiClient(server);
      await call("POST", "/api/databases", { body: { name: "acme" } });
      await call("POST", "/api/collections", {
        body: {
          name: "blobs",
          fields: [{ name: "data", type: "text", max: 100_000 }],
          listRule: "",
          viewRule: "",
          createRule: "",
        },
      });
      // The slow consumer: reads PB_CONNECT, then stops reading.
      const slow = await new Promise<{ res: IncomingMessage; clientId: string; text: string[] }>(
        (resolve, reject) => {
          const req = httpRequest(`${server.url}/api/realtime`, (res) => {
            const text: string[] = [];
            const onData = (chunk: Buffer) => {
              text.push(chunk.toString());
              const match = /id:([^\n]+)\nevent:PB_CONNECT/.exec(text.join(""));
              if (match) {
                res.pause();
                res.off("data", onData);
                resolve({ res, clientId: match[1]!, text });
              }
            };
            res.on("data", onData);
          });
          req.on("error", reject);
          req.end();
        },
      );
      const healthy = await openStream(server.url);
      for (const clientId of [slow.clientId, healthy.clientId]) {
        expect((await subscribe(call, clientId, ["blobs/*"], { tenant: "acme" })).status).toBe(204);
      }
      const data = "x".repeat(32 * 1024);
      let writes = 0;
      while ((realtimeStats(server.app)?.disconnects.slow_consumer ?? 0) === 0) {
        const created = await call("POST", "/api/collections/blobs/records", {
          tenant: "acme",
          body: { data },
        });
        expect(created.status).toBe(200);
        writes++;
        if (writes > 5000) throw new Error("the slow consumer was never disconnected");
      }
      // The writer goes on after the disconnect, unaffected.
      for (let i = 0; i < 20; i++) {
        const created = await call("POST", "/api/collections/blobs/records", {
          tenant: "acme",
          body: { data },
        });
        expect(created.status).toBe(200);
        writes++;
      }
      const stats = realtimeStats(server.app)!;
      // One message (~32 KiB) may be in the writer's hands beyond the queue bound.
      expect(stats.peakQueuedBytes).toBeLessThanOrEqual(maxQueuedBytes);
      expect(stats.peakQueuedMessages).toBeLessThanOrEqual(50);
      expect(stats.clients).toBe(1);
      // The healthy subscriber got every event.
      await waitFor("every event at the healthy subscriber", () =>
        parsed(healthy.events, "blobs/*").length === writes ? true : undefined,
      );
      // The slow one, once it reads again, finds the reason and the end of the stream.
      await new Promise<void>((resolve) => {
        slow.res.on("data", (chunk: Buffer) => slow.text.push(chunk.toString()));
        slow.res.on("end", resolve);
        slow.res.on("close", resolve);
        slow.res.resume();
      });
      const all = slow.text.join("");
      expect(all).toContain("event:PB_DISCONNECT");
      expect(all).toContain('"reason":"slow_consumer"');
      healthy.close();
    } finally {
      await server.stop();
    }
  });
});

describe("the tenantbase SDK's realtime", () => {
  it("subscribe and on() get events, reconnect after a restart on the same port, and resubscribe", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tenantbase-realtime-"));
    const start = async (port: number) => {
      const hub = createTenantbase({ driver: sqlite({ dir: join(dir, "data") }) });
      const running = await startServer({
        hub,
        port,
        host: "127.0.0.1",
        adminToken: ADMIN_TOKEN,
        jwtSecret: JWT_SECRET,
        logger: pino({ level: "silent" }),
        closeHub: true,
        // Realtime streams must not hold the close up (they end at once).
        shutdownGraceMs: 600_000,
      });
      return { hub, running };
    };
    let current = await start(0);
    const port = current.running.port;
    try {
      const admin = new TenantbaseClient(current.running.url, { token: ADMIN_TOKEN });
      await admin.settings.databases.create({ name: "acme" });
      await admin.settings.collections.create(openCollection);
      const acme = admin.db("acme");
      const records: any[] = [];
      const events: unknown[] = [];
      const disconnects: string[] = [];
      admin.realtime("acme").onDisconnect = (info) => disconnects.push(info.reason);
      const unsubscribe = await acme.collection("posts").subscribe("*", (e) => records.push(e));
      const off = await acme.on("hello", (payload) => events.push(payload));
      const first = await acme.collection("posts").create({ title: "before restart" });
      (await current.hub.tenant("acme")).broadcast("hello", { n: 1 });
      await waitFor("the first record event", () => records.length >= 1);
      await waitFor("the first custom event", () => events.length >= 1);
      expect(records[0]).toMatchObject({ action: "create", record: { id: first.id } });
      expect(events).toEqual([{ n: 1 }]);

      await current.running.close();
      await waitFor("the shutdown notice", () => disconnects.includes("shutdown"));
      current = await start(port);
      // The SDK reconnects by itself and subscribes again.
      await waitFor(
        "the SDK to reconnect",
        () =>
          admin.realtime("acme").isConnected &&
          realtimeStats(current.running.app)?.subscriptions === 2,
        30_000,
      );
      const second = await acme.collection("posts").create({ title: "after restart" });
      const hub = await current.hub.tenant("acme");
      await hub.transaction(async () => hub.broadcast("hello", { n: 2 }));
      await waitFor("the record event after restart", () => records.length >= 2);
      await waitFor("the custom event after restart", () => events.length >= 2);
      expect(records[1]).toMatchObject({ action: "create", record: { id: second.id } });
      expect(events).toEqual([{ n: 1 }, { n: 2 }]);

      await off();
      await unsubscribe();
      await waitFor(
        "the SDK to disconnect",
        () => realtimeStats(current.running.app)?.clients === 0,
      );
      expect(admin.realtime("acme").isConnected).toBe(false);
    } finally {
      await current.running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a tenant user's subscription follows its rules; a token for another tenant is refused", async () => {
    const server = await startTestServer();
    try {
      const call = apiClient(server);
      await call("POST", "/api/databases", { body: { name: "acme" } });
      await call("POST", "/api/databases", { body: { name: "globex" } });
      await call("POST", "/api/collections", { body: usersCollection });
      await call("POST", "/api/collections", { body: notesCollection });
      await signUp(call, "acme", "ann@acme.io");
      const user = new TenantbaseClient(server.url);
      const auth = await user
        .db("acme")
        .collection("users")
        .authWithPassword("ann@acme.io", "password123");
      const seen: any[] = [];
      const unsubscribe = await user.collection("notes").subscribe("*", (e) => seen.push(e));
      const admin = new TenantbaseClient(server.url, { token: ADMIN_TOKEN });
      await admin.db("acme").collection("notes").create({ title: "not mine", owner: "someone" });
      await admin.db("acme").collection("notes").create({ title: "mine", owner: auth.record.id });
      await waitFor("ann's note", () => seen.length >= 1);
      expect(seen.map((e) => e.record.title)).toEqual(["mine"]);

      // A new sign-in: the next subscription reconnects with the new token, keeping both topics.
      const connection = user.realtime();
      const firstClientId = connection.clientId;
      await new Promise((resolve) => setTimeout(resolve, 1100)); // a token with another iat
      await user.db("acme").collection("users").authWithPassword("ann@acme.io", "password123");
      const own: any[] = [];
      const unsubscribeOwn = await user
        .collection("notes")
        .subscribe("*", (e) => own.push(e), { filter: 'title = "second"' });
      expect(connection.clientId).not.toBe(firstClientId);
      expect(connection.topics.length).toBe(2);
      await admin.db("acme").collection("notes").create({ title: "second", owner: auth.record.id });
      await waitFor("both subscriptions", () => own.length >= 1 && seen.length >= 2);
      expect(seen.map((e) => e.record.title)).toEqual(["mine", "second"]);
      await unsubscribeOwn();
      await unsubscribe();

      const hostile = user.db("globex").collection("notes");
      const error = await hostile.subscribe("*", () => {}).catch((e) => e);
      expect(error).toBeInstanceOf(ForbiddenError);
      expect(error.status).toBe(403);
    } finally {
      await server.stop();
    }
  });
});
