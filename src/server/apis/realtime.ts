/**
 * Realtime, PocketBase's SSE protocol, one tenant per connection:
 * GET  /api/realtime  an event stream; the first event is PB_CONNECT
 *                     (id and data.clientId = the client id)
 * POST /api/realtime  {clientId, subscriptions} → 204: replaces the client's
 *                     subscriptions
 * Topics: `<collection>/*` (list rule), `<collection>/<id>` (view rule),
 * `events/<name>` (events broadcast on the tenant), each optionally followed
 * by `?options={"query":{...},"headers":{...}}` as the pocketbase SDK sends it
 * (query.filter and query.fields apply; both are @request.* for rules).
 *
 * The tenant is bound once per client: at connect when the GET carries a
 * tenant user's token or x-dbname, else at the first POST (the token's
 * tenant claim, or x-dbname for a superuser or anonymous caller). Every POST
 * must come from the identity that first subscribed (PocketBase's rule) and
 * name the same tenant.
 */
import type { Context, Hono } from "hono";
import { decodeJwt } from "jose";
import { z } from "zod";
import { ANONYMOUS, type Caller, SUPERUSER } from "../../collections/rules.js";
import type { Principal } from "../auth/principal.js";
import { tokenKeyDigest } from "../auth/tokens.js";
import { readBody } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv, TenantContext } from "../env.js";
import { ApiError, badRequest, forbidden, notFound } from "../errors.js";
import { TENANT_HEADER, tenant } from "../middleware/tenant/index.js";
import {
  type ClientIdentity,
  RealtimeBroker,
  type RealtimeOptions,
  type RealtimeStats,
  type Subscription,
} from "../realtime/broker.js";

export type { DisconnectReason, RealtimeOptions, RealtimeStats } from "../realtime/broker.js";

const MAX_SUBSCRIPTIONS = 1000;
const MAX_SUBSCRIPTION_LENGTH = 2500;
const CONTROL = /[\u0000-\u001f\u007f]/;

const subscriptionsSchema = z.object({
  clientId: z.string().min(1).max(255),
  subscriptions: z
    .array(z.string().max(MAX_SUBSCRIPTION_LENGTH))
    .max(MAX_SUBSCRIPTIONS)
    .default([]),
});

const brokers = new WeakMap<object, RealtimeBroker>();

/** Counters of the app's realtime broker (clients, queues, disconnects). */
export function realtimeStats(app: object): RealtimeStats | undefined {
  return brokers.get(app)?.stats();
}

/** Ends every realtime stream of the app (a final PB_DISCONNECT "shutdown"); new ones get 503. */
export function closeRealtime(app: object): void {
  brokers.get(app)?.close();
}

function stringValues(input: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!input || typeof input !== "object" || Array.isArray(input)) return out;
  for (const [key, value] of Object.entries(input)) {
    if (value === null || value === undefined) continue;
    out[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** `posts/*?options={...}` → its topic parts and options. */
export function parseSubscription(raw: string): Subscription {
  if (raw === "" || CONTROL.test(raw)) {
    throw badRequest(
      `Invalid subscription ${JSON.stringify(raw)}: empty or has control characters.`,
    );
  }
  const mark = raw.indexOf("?");
  const topic = mark === -1 ? raw : raw.slice(0, mark);
  let query: Record<string, string> = Object.create(null);
  let headers: Record<string, string> = Object.create(null);
  if (mark !== -1) {
    const options = new URLSearchParams(raw.slice(mark + 1)).get("options");
    if (options !== null && options !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(options);
      } catch {
        throw badRequest(`Invalid subscription ${JSON.stringify(raw)}: options is not JSON.`);
      }
      const { query: q, headers: h } = (parsed ?? {}) as { query?: unknown; headers?: unknown };
      query = stringValues(q);
      headers = stringValues(h);
    }
  }
  const base = { raw, query, headers };
  if (topic.startsWith("events/")) {
    const event = topic.slice("events/".length);
    if (event === "")
      throw badRequest(`Invalid subscription ${JSON.stringify(raw)}: no event name.`);
    if (event === "record") {
      throw badRequest(
        'The "record" event is reserved: subscribe to "<collection>/*" or "<collection>/<id>".',
      );
    }
    return { ...base, kind: "event", event };
  }
  const slash = topic.indexOf("/");
  if (slash > 0 && slash < topic.length - 1 && topic.indexOf("/", slash + 1) === -1) {
    return {
      ...base,
      kind: "record",
      collection: topic.slice(0, slash),
      recordId: topic.slice(slash + 1),
    };
  }
  // Anything else (e.g. the SDK's own "PB_CONNECT") is accepted and matches nothing.
  return { ...base, kind: "other" };
}

function identityKey(principal: Principal): string {
  switch (principal.kind) {
    case "anonymous":
      return "";
    case "superuser":
      return "superuser";
    case "record":
      return `record:${principal.tenant}:${principal.collectionId}:${principal.id}`;
    case "external":
      return `external:${principal.provider}:${principal.tenant}:${principal.id}`;
  }
}

function tokenExpiry(c: Context<AppEnv>, principal: Principal): number | undefined {
  if (principal.kind !== "record" && principal.kind !== "external") return undefined;
  const header = c.req.header("authorization") ?? "";
  try {
    const exp = decodeJwt(header.replace(/^Bearer\s+/i, "").trim()).exp;
    return typeof exp === "number" ? exp : undefined;
  } catch {
    return undefined;
  }
}

export function registerRealtime(
  app: Hono<AppEnv>,
  ctx: ServerContext,
  options: RealtimeOptions = {},
): void {
  const broker = new RealtimeBroker({
    ...options,
    hub: ctx.hub,
    collections: ctx.collections,
    logger: ctx.logger,
    async verifyAuthRecord(key, own) {
      const collection = ctx.collections.get(own.collectionId);
      if (!collection?.isAuth) return false;
      const found = await ctx.records.findAuthRecord(await ctx.hub.tenant(key), collection, own.id);
      return found !== undefined && tokenKeyDigest(String(found.row.tokenKey)) === own.tokenKeyHash;
    },
  });
  brokers.set(app, broker);
  const inTenant = tenant(ctx);

  /** The tenant middleware's answer (403 for a token naming another tenant, 404 unknown, ...). */
  async function resolveTenant(c: Context<AppEnv>): Promise<TenantContext> {
    await inTenant(c, async () => {});
    return c.get("tenant");
  }

  function identityOf(c: Context<AppEnv>, principal: Principal, caller: Caller): ClientIdentity {
    // Not the request's details (they would keep the request alive): subscriptions bring their own.
    const { request: _request, ...bare } = caller;
    const identity: ClientIdentity = { key: identityKey(principal), caller: bare };
    const exp = tokenExpiry(c, principal);
    if (exp !== undefined) identity.exp = exp;
    if (principal.kind === "record") {
      identity.authRecord = {
        collectionId: principal.collectionId,
        id: principal.id,
        tokenKeyHash: principal.tokenKeyHash,
      };
    }
    return identity;
  }

  app.get("/api/realtime", async (c) => {
    if (broker.closed) throw new ApiError(503, "The server is shutting down.");
    const principal = c.get("principal");
    const named = c.req.header(TENANT_HEADER) !== undefined;
    // Identity is checked at connect too when the request carries one.
    const bound =
      named || principal.kind === "record" || principal.kind === "external"
        ? await resolveTenant(c)
        : undefined;
    const client = broker.connect();
    if (bound) {
      broker.bind(client, bound.key);
      client.identity = identityOf(c, principal, bound.caller);
      client.armExpiry(client.identity.exp);
    }
    const env = c.env as
      | { incoming?: { httpVersionMajor?: number }; outgoing?: { destroy?: () => void } }
      | undefined;
    const outgoing = env?.outgoing;
    if (typeof outgoing?.destroy === "function") client.destroy = () => outgoing.destroy!();
    const headers: Record<string, string> = {
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
    };
    // HTTP/1: one stream per connection, so when it ends the connection closes
    // (and a closing server is not held up by it). HTTP/2 has no such header.
    if (env?.incoming?.httpVersionMajor === 1) headers.Connection = "close";
    return c.body(client.stream, 200, headers);
  });

  app.post("/api/realtime", async (c) => {
    const body = await readBody(c, subscriptionsSchema, "Failed to set the subscriptions.");
    const client = broker.get(body.clientId);
    if (!client || client.closed) throw notFound("Missing or invalid client id.");
    const principal = c.get("principal");
    const key = identityKey(principal);
    // PocketBase's rule: once a client subscribed with an identity, only that identity may change it.
    if (client.identity && client.identity.key !== "" && client.identity.key !== key) {
      throw forbidden("The current and the previous request authorization don't match.");
    }
    let resolved: { key: string; caller: Caller };
    if (
      c.req.header(TENANT_HEADER) !== undefined ||
      principal.kind === "record" ||
      principal.kind === "external"
    ) {
      resolved = await resolveTenant(c);
    } else if (client.tenant !== undefined) {
      await ctx.hub.tenant(client.tenant);
      resolved = {
        key: client.tenant,
        caller: principal.kind === "superuser" ? SUPERUSER : ANONYMOUS,
      };
    } else {
      throw badRequest("Missing x-dbname header: name the tenant (database) to use.");
    }
    if (client.tenant !== undefined && client.tenant !== resolved.key) {
      throw forbidden("This realtime connection belongs to another tenant.");
    }
    const subscriptions = [...new Set(body.subscriptions)].map(parseSubscription);
    for (const sub of subscriptions) {
      if (sub.kind === "event" && principal.kind === "anonymous") {
        throw forbidden(`Subscribing to ${sub.raw} requires authentication.`);
      }
    }
    const identity = identityOf(c, principal, resolved.caller);
    // Options that cannot work are a 400 now rather than silence later.
    for (const sub of subscriptions) {
      if (sub.kind !== "record") continue;
      const collection = ctx.collections.get(sub.collection!);
      if (!collection) continue;
      const cache = broker.callerFor(identity, sub, collection);
      if (sub.query.filter !== undefined && sub.query.filter.trim() !== "") {
        try {
          broker.compileFilter(cache, sub.query.filter);
        } catch (error) {
          throw badRequest(
            `Invalid filter in subscription ${JSON.stringify(sub.raw)}: ${(error as Error).message}`,
          );
        }
      }
    }
    // Checked again after the awaits: another request may have subscribed meanwhile.
    if (client.closed) throw notFound("Missing or invalid client id.");
    if (client.identity && client.identity.key !== "" && client.identity.key !== key) {
      throw forbidden("The current and the previous request authorization don't match.");
    }
    if (client.tenant !== undefined && client.tenant !== resolved.key) {
      throw forbidden("This realtime connection belongs to another tenant.");
    }
    broker.bind(client, resolved.key);
    broker.setSubscriptions(client, identity, subscriptions);
    return c.body(null, 204);
  });
}
