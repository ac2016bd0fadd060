/**
 * The realtime broker: SSE clients, their subscriptions, and the fan-out of
 * each tenant's events to them. A client belongs to one tenant (bound at
 * connect or at its first subscription) and is fed by that tenant's bus
 * only, so it can never see another tenant's events. Delivery only queues:
 * a writer never waits for a subscriber. Each client's queue is bounded; a
 * client that falls behind gets a final PB_DISCONNECT event and is closed.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Collection } from "../../collections/collection.js";
import {
  type ApiRecord,
  type FieldsSelector,
  parseFieldsParam,
  pickFields,
  toApiRecord,
} from "../../collections/output.js";
import type { RecordEvent } from "../../collections/records.js";
import type { Collections } from "../../collections/registry.js";
import type { Caller } from "../../collections/rules.js";
import type { TenantEvent } from "../../core/events.js";
import type { Tenantbase } from "../../core/hub.js";
import { type Condition, RecordMatcher, toStoredRow } from "./matcher.js";

export interface RealtimeOptions {
  /** Most messages waiting for one client before it is disconnected. Default 1000. */
  maxQueuedMessages?: number;
  /** Most bytes waiting for one client before it is disconnected. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** A client without subscriptions is closed after this long. Default 5 minutes (as PocketBase). */
  idleTimeoutMs?: number;
  /** Keep-alive comment interval. Default 25 s. */
  pingIntervalMs?: number;
  /** How long a closing stream may take to flush its final event before the connection is cut. Default 5 s. */
  closeGraceMs?: number;
}

export type DisconnectReason =
  | "slow_consumer"
  | "token_expired"
  | "auth_revoked"
  | "idle"
  | "shutdown";

const DISCONNECT_MESSAGES: Record<DisconnectReason, string> = {
  slow_consumer: "The client fell behind: too many messages were waiting to be sent.",
  token_expired: "The token expired; connect again with a fresh one.",
  auth_revoked: "The signed-in record was deleted or its tokens were revoked.",
  idle: "The client had no subscriptions for too long.",
  shutdown: "The server is shutting down.",
};

export interface RealtimeStats {
  clients: number;
  subscriptions: number;
  queuedMessages: number;
  queuedBytes: number;
  /** The most bytes that ever waited for one client. */
  peakQueuedBytes: number;
  /** The most messages that ever waited for one client. */
  peakQueuedMessages: number;
  disconnects: Record<DisconnectReason, number>;
}

/** One parsed subscription. `raw` is also the SSE event name its messages carry. */
export interface Subscription {
  raw: string;
  kind: "record" | "event" | "other";
  /** Collection name or id (record topics). */
  collection?: string;
  /** "*" or a record id (record topics). */
  recordId?: string;
  /** The event name (events/<name> topics). */
  event?: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Derived per collection definition (rebuilt when it changes). */
  cache?: SubscriptionCache;
}

interface SubscriptionCache {
  collection: Collection;
  caller: Caller;
  fields: FieldsSelector;
  conditions: Map<string, Condition | null>;
}

/** Who the client is, as its last accepted request established. */
export interface ClientIdentity {
  /** "" for anonymous; otherwise stable across token refreshes. */
  key: string;
  caller: Caller;
  /** Token expiry (seconds since the epoch), if the credential has one. */
  exp?: number;
  /** For tenant users: re-checked when their auth record changes. */
  authRecord?: { collectionId: string; id: string; tokenKeyHash: string };
}

const encoder = new TextEncoder();
const MAX_CHUNK = 64 * 1024;
const MAX_TIMER = 2 ** 31 - 1;
/** Macros other than @request.* make a compiled condition valid for one event only. */
const VOLATILE = /@(?!request\.)/;

function sseMessage(id: string, event: string, data: string): string {
  return `id:${id}\nevent:${event}\ndata:${data}\n\n`;
}

export class RealtimeClient {
  readonly id = randomBytes(30).toString("base64url");
  readonly stream: ReadableStream<Uint8Array>;
  tenant: string | undefined;
  identity: ClientIdentity | undefined;
  subscriptions = new Map<string, Subscription>();
  closed = false;
  readonly #broker: RealtimeBroker;
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #wake: (() => void) | undefined;
  #ending = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #forceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Cuts the connection at once (set by the route: destroys the socket). */
  destroy: (() => void) | undefined;

  constructor(broker: RealtimeBroker) {
    this.#broker = broker;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: (controller) => this.#pull(controller),
        cancel: () => this.#gone(),
      },
      { highWaterMark: 0 },
    );
    this.#push(sseMessage(this.id, "PB_CONNECT", JSON.stringify({ clientId: this.id })));
  }

  get queuedMessages(): number {
    return this.#queue.length;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Queues one message; false (and the client disconnected) when it has fallen behind. */
  send(event: string, data: string): boolean {
    if (this.#ending) return false;
    const chunk = encoder.encode(sseMessage(this.id, event, data));
    const limits = this.#broker.limits;
    // One message larger than the byte limit still goes to a client that is keeping up.
    if (
      this.#queue.length > 0 &&
      (this.#queue.length + 1 > limits.maxQueuedMessages ||
        this.#queuedBytes + chunk.byteLength > limits.maxQueuedBytes)
    ) {
      this.end("slow_consumer");
      return false;
    }
    this.#pushChunk(chunk);
    return true;
  }

  /** A keep-alive comment, only when nothing else is waiting. */
  ping(): void {
    if (!this.#ending && this.#queue.length === 0) this.#push(": ping\n\n");
  }

  /** Sends PB_DISCONNECT {reason, message} after what is queued (or instead, when behind), then closes. */
  end(reason: DisconnectReason): void {
    if (this.#ending) return;
    if (reason === "slow_consumer") {
      this.#queue.length = 0;
      this.#queuedBytes = 0;
    }
    this.#push(
      sseMessage(
        this.id,
        "PB_DISCONNECT",
        JSON.stringify({ reason, message: DISCONNECT_MESSAGES[reason] }),
      ),
    );
    this.#ending = true;
    this.#broker.countDisconnect(reason);
    this.#release();
    this.#forceTimer = setTimeout(() => this.#cut(), this.#broker.limits.closeGraceMs);
    this.#forceTimer.unref?.();
    this.#kick();
  }

  /** Arms (or disarms) the idle timer: only clients without subscriptions idle out. */
  resetIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.closed || this.#ending || this.subscriptions.size > 0) return;
    this.#idleTimer = setTimeout(() => this.end("idle"), this.#broker.limits.idleTimeoutMs);
    this.#idleTimer.unref?.();
  }

  /** Ends the stream when the credential expires. */
  armExpiry(exp: number | undefined): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    if (exp === undefined || this.#ending) return;
    const ms = exp * 1000 - Date.now();
    if (ms <= 0) {
      this.end("token_expired");
      return;
    }
    this.#expiryTimer = setTimeout(
      () => (ms > MAX_TIMER ? this.armExpiry(exp) : this.end("token_expired")),
      Math.min(ms, MAX_TIMER),
    );
    this.#expiryTimer.unref?.();
  }

  #push(text: string): void {
    this.#pushChunk(encoder.encode(text));
  }

  #pushChunk(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.byteLength;
    this.#broker.notePeak(this.#queue.length, this.#queuedBytes);
    this.#kick();
  }

  #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> | void {
    if (this.#deliver(controller)) return;
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #kick(): void {
    const wake = this.#wake;
    if (!wake) return;
    if (this.#deliver(this.#controller)) {
      this.#wake = undefined;
      wake();
    }
  }

  /** Hands queued bytes to the reader (up to 64 KiB at a time); closes when ending and empty. */
  #deliver(controller: ReadableStreamDefaultController<Uint8Array>): boolean {
    if (this.closed) return true;
    if (this.#queue.length === 0) {
      if (!this.#ending) return false;
      controller.close();
      this.#gone();
      return true;
    }
    let size = 0;
    let count = 0;
    while (count < this.#queue.length && (count === 0 || size < MAX_CHUNK)) {
      size += this.#queue[count]!.byteLength;
      count++;
    }
    const taken = this.#queue.splice(0, count);
    this.#queuedBytes -= size;
    if (taken.length === 1) controller.enqueue(taken[0]!);
    else {
      const joined = new Uint8Array(size);
      let offset = 0;
      for (const part of taken) {
        joined.set(part, offset);
        offset += part.byteLength;
      }
      controller.enqueue(joined);
    }
    return true;
  }

  /** The stream is over (closed by us, or the peer went away). */
  #gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.#ending = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    clearTimeout(this.#forceTimer);
    this.#release();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #release(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#expiryTimer);
    this.#broker.remove(this);
  }

  #cut(): void {
    if (this.closed) return;
    if (this.destroy) this.destroy();
    else {
      try {
        this.#controller.error(new Error("realtime stream closed"));
      } catch {
        // Already closed.
      }
    }
    this.#gone();
  }
}

interface TenantFeed {
  clients: Set<RealtimeClient>;
  unsubscribe: () => void;
}

export interface RealtimeBrokerOptions extends RealtimeOptions {
  hub: Tenantbase;
  collections: Collections;
  logger: Logger;
  /** Checks a tenant user's token key again (after their auth record changed); false = revoked. */
  verifyAuthRecord: (
    tenant: string,
    record: { collectionId: string; id: string; tokenKeyHash: string },
  ) => Promise<boolean>;
}

export class RealtimeBroker {
  readonly limits: Required<RealtimeOptions>;
  readonly #options: RealtimeBrokerOptions;
  readonly #clients = new Map<string, RealtimeClient>();
  readonly #feeds = new Map<string, TenantFeed>();
  readonly #matcher = new RecordMatcher();
  readonly #pinger: ReturnType<typeof setInterval>;
  readonly #disconnects: Record<DisconnectReason, number> = {
    slow_consumer: 0,
    token_expired: 0,
    auth_revoked: 0,
    idle: 0,
    shutdown: 0,
  };
  #peakBytes = 0;
  #peakMessages = 0;
  /**
   * Runs a function outside the async context events are published in (the
   * committing transaction's), so follow-up queries are not nested in it.
   */
  readonly #outside = AsyncLocalStorage.snapshot();
  closed = false;

  constructor(options: RealtimeBrokerOptions) {
    this.#options = options;
    this.limits = {
      maxQueuedMessages: options.maxQueuedMessages ?? 1000,
      maxQueuedBytes: options.maxQueuedBytes ?? 1024 * 1024,
      idleTimeoutMs: options.idleTimeoutMs ?? 5 * 60_000,
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      closeGraceMs: options.closeGraceMs ?? 5_000,
    };
    this.#pinger = setInterval(() => {
      for (const client of this.#clients.values()) client.ping();
    }, this.limits.pingIntervalMs);
    this.#pinger.unref?.();
  }

  connect(): RealtimeClient {
    const client = new RealtimeClient(this);
    this.#clients.set(client.id, client);
    client.resetIdle();
    return client;
  }

  get(clientId: string): RealtimeClient | undefined {
    return this.#clients.get(clientId);
  }

  /** Binds the client to its tenant (once) and feeds it that tenant's events. */
  bind(client: RealtimeClient, tenant: string): void {
    if (client.tenant !== undefined || client.closed) return;
    client.tenant = tenant;
    let feed = this.#feeds.get(tenant);
    if (!feed) {
      const created: TenantFeed = { clients: new Set(), unsubscribe: () => {} };
      created.unsubscribe = this.#options.hub.subscribe(tenant, (event) =>
        this.#dispatch(tenant, created, event),
      );
      this.#feeds.set(tenant, created);
      feed = created;
    }
    feed.clients.add(client);
  }

  /** Replaces the client's identity and subscriptions (POST /api/realtime). */
  setSubscriptions(
    client: RealtimeClient,
    identity: ClientIdentity,
    subscriptions: Subscription[],
  ): void {
    client.identity = identity;
    client.subscriptions = new Map(subscriptions.map((s) => [s.raw, s]));
    client.armExpiry(identity.exp);
    client.resetIdle();
  }

  remove(client: RealtimeClient): void {
    if (this.#clients.get(client.id) !== client) return;
    this.#clients.delete(client.id);
    if (client.tenant === undefined) return;
    const feed = this.#feeds.get(client.tenant);
    if (!feed) return;
    feed.clients.delete(client);
    if (feed.clients.size === 0) {
      feed.unsubscribe();
      this.#feeds.delete(client.tenant);
    }
  }

  countDisconnect(reason: DisconnectReason): void {
    this.#disconnects[reason]++;
  }

  notePeak(messages: number, bytes: number): void {
    if (messages > this.#peakMessages) this.#peakMessages = messages;
    if (bytes > this.#peakBytes) this.#peakBytes = bytes;
  }

  stats(): RealtimeStats {
    let subscriptions = 0;
    let queuedMessages = 0;
    let queuedBytes = 0;
    for (const client of this.#clients.values()) {
      subscriptions += client.subscriptions.size;
      queuedMessages += client.queuedMessages;
      queuedBytes += client.queuedBytes;
    }
    return {
      clients: this.#clients.size,
      subscriptions,
      queuedMessages,
      queuedBytes,
      peakQueuedBytes: this.#peakBytes,
      peakQueuedMessages: this.#peakMessages,
      disconnects: { ...this.#disconnects },
    };
  }

  /** The caller a subscription's rules see: its options' query and headers as @request.*. */
  callerFor(
    identity: ClientIdentity,
    sub: Subscription,
    collection: Collection,
  ): SubscriptionCache {
    if (
      sub.cache &&
      sub.cache.collection === collection &&
      sub.cache.caller.auth === identity.caller.auth
    ) {
      return sub.cache;
    }
    const caller: Caller = {
      ...identity.caller,
      request: { query: sub.query, headers: sub.headers, method: "GET", context: "realtime" },
    };
    sub.cache = {
      collection,
      caller,
      fields: parseFieldsParam(collection, sub.query.fields),
      conditions: new Map(),
    };
    return sub.cache;
  }

  /** Compiles a subscription's filter now (throws FilterError), so a bad one is a 400. */
  compileFilter(cache: SubscriptionCache, filter: string): void {
    this.#matcher.compile(cache.collection, filter, cache.caller, false);
  }

  #condition(cache: SubscriptionCache, expression: string, trusted: boolean): Condition | null {
    const key = `${trusted ? "r" : "f"}:${expression}`;
    const known = cache.conditions.get(key);
    if (known !== undefined) return known;
    let condition: Condition | null;
    try {
      condition = this.#matcher.compile(cache.collection, expression, cache.caller, trusted);
    } catch (error) {
      this.#options.logger.debug({ err: (error as Error).message }, "realtime rule not applied");
      condition = null;
    }
    if (!VOLATILE.test(expression)) cache.conditions.set(key, condition);
    return condition;
  }

  /** The list rule (for `*`) or view rule (for an id), then the subscription's own filter. */
  #allowed(
    sub: Subscription,
    cache: SubscriptionCache,
    test: (condition: Condition) => boolean,
  ): boolean {
    const { caller, collection } = cache;
    if (!caller.superuser) {
      const rule = sub.recordId === "*" ? collection.rules.listRule : collection.rules.viewRule;
      if (rule === null) return false;
      if (rule === "") {
        if (caller.auth === null) return false;
      } else {
        const condition = this.#condition(cache, rule, true);
        if (!condition || !test(condition)) return false;
      }
    }
    const filter = sub.query.filter;
    if (filter !== undefined && filter.trim() !== "") {
      const condition = this.#condition(cache, filter, false);
      if (!condition || !test(condition)) return false;
    }
    return true;
  }

  #dispatch(tenant: string, feed: TenantFeed, event: TenantEvent): void {
    if (event.name === "record") this.#dispatchRecord(tenant, feed, event.payload as RecordEvent);
    else this.#dispatchEvent(feed, event);
  }

  #dispatchEvent(feed: TenantFeed, event: TenantEvent): void {
    let data: string | undefined;
    for (const client of [...feed.clients]) {
      if (!client.identity) continue;
      for (const sub of client.subscriptions.values()) {
        if (sub.kind !== "event" || sub.event !== event.name) continue;
        if (data === undefined) {
          try {
            data = JSON.stringify(event.payload ?? null) ?? "null";
          } catch (error) {
            this.#options.logger.warn(
              { err: (error as Error).message, event: event.name },
              "realtime: event payload is not JSON",
            );
            return;
          }
        }
        client.send(sub.raw, data);
      }
    }
  }

  #dispatchRecord(tenant: string, feed: TenantFeed, payload: RecordEvent): void {
    const collection = this.#options.collections.get(payload.collectionId);
    if (!collection || collection.id !== payload.collectionId) return;
    const record = payload.record;
    const interested: Array<[RealtimeClient, Subscription]> = [];
    for (const client of [...feed.clients]) {
      if (!client.identity) continue;
      this.#followAuthRecord(tenant, client, collection, payload);
      if (client.closed) continue;
      for (const sub of client.subscriptions.values()) {
        if (
          sub.kind === "record" &&
          (sub.collection === collection.name || sub.collection === collection.id) &&
          (sub.recordId === "*" || sub.recordId === record.id)
        ) {
          interested.push([client, sub]);
        }
      }
    }
    if (interested.length === 0) return;
    const row = toStoredRow(collection, record);
    this.#matcher.withRecord(collection, row, (test) => {
      const rendered = new Map<string, string>();
      for (const [client, sub] of interested) {
        if (client.closed) continue;
        let cache: SubscriptionCache;
        try {
          cache = this.callerFor(client.identity!, sub, collection);
        } catch {
          continue; // A fields option that no longer fits the collection.
        }
        if (!this.#allowed(sub, cache, test)) continue;
        const { caller } = cache;
        const self = caller.record?.collectionId === collection.id && caller.record.id === row.id;
        const key = `${caller.superuser ? 1 : 0}:${self ? 1 : 0}:${sub.query.fields ?? ""}`;
        let data = rendered.get(key);
        if (data === undefined) {
          const shown: ApiRecord = pickFields(toApiRecord(collection, row, caller), cache.fields);
          data = JSON.stringify({ action: payload.action, record: shown });
          rendered.set(key, data);
        }
        client.send(sub.raw, data);
      }
    });
  }

  /** A tenant user's own auth record: follow updates (for @request.auth), end on delete or revocation. */
  #followAuthRecord(
    tenant: string,
    client: RealtimeClient,
    collection: Collection,
    payload: RecordEvent,
  ): void {
    const identity = client.identity!;
    const own = identity.authRecord;
    if (!own || own.collectionId !== collection.id || own.id !== payload.record.id) return;
    if (payload.action === "delete") {
      client.end("auth_revoked");
      return;
    }
    if (payload.action !== "update") return;
    identity.caller = { ...identity.caller, auth: payload.record };
    this.#outside(() => this.#options.verifyAuthRecord(tenant, own)).then(
      (valid) => {
        if (!valid) client.end("auth_revoked");
      },
      (error) =>
        this.#options.logger.warn({ err: (error as Error).message }, "realtime: auth re-check"),
    );
  }

  /** Ends every stream (PB_DISCONNECT "shutdown") and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.#pinger);
    for (const client of [...this.#clients.values()]) client.end("shutdown");
    for (const feed of this.#feeds.values()) feed.unsubscribe();
    this.#feeds.clear();
    this.#matcher.close();
  }
}
