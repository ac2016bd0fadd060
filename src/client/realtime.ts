/**
 * Realtime for the SDK: PocketBase's SSE protocol over fetch streaming
 * (browsers and Node 20, which has no EventSource). One connection per
 * client and database; it opens with the first subscription, closes with
 * the last, reconnects with backoff when dropped (server restart, network,
 * PB_DISCONNECT) and subscribes again.
 *
 *   const unsubscribe = await client.db("acme").collection("posts").subscribe("*", (e) => {
 *     console.log(e.action, e.record);
 *   });
 *   const off = await client.db("acme").on("employeeAdded", (payload) => console.log(payload));
 */
import type { TenantbaseClient } from "./client.js";
import { ClientError, errorFor, NetworkError } from "./errors.js";

export type UnsubscribeFunc = () => Promise<void>;

export interface RecordSubscription<T> {
  action: "create" | "update" | "delete";
  record: T;
}

export interface SubscribeOptions {
  /** Only records matching this filter (on top of the collection's rules). */
  filter?: string;
  /** Keys to send, as the records API's `fields`. */
  fields?: string;
  /** More @request.query values for the rules. */
  query?: Record<string, string | number | boolean>;
  /** @request.headers values for the rules. */
  headers?: Record<string, string>;
}

/** Why the server ended a stream (its PB_DISCONNECT event). */
export interface DisconnectInfo {
  reason: string;
  message: string;
}

export interface RealtimeOptions {
  /** Waits between reconnection attempts, in ms (the last repeats). */
  reconnectDelays?: number[];
  /** How long subscribe() waits for the first connection. Default 15 s. */
  connectTimeoutMs?: number;
}

const DEFAULT_DELAYS = [200, 300, 500, 1000, 2000, 5000];

type Listener = (data: unknown) => void;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** `topic` + PocketBase's `?options=` suffix (query and headers). */
export function topicWithOptions(topic: string, options: SubscribeOptions = {}): string {
  const query: Record<string, string | number | boolean> = { ...options.query };
  if (options.filter !== undefined) query.filter = options.filter;
  if (options.fields !== undefined) query.fields = options.fields;
  if (Object.keys(query).length === 0 && !options.headers) return topic;
  const encoded = encodeURIComponent(JSON.stringify({ query, headers: options.headers ?? {} }));
  return `${topic}${topic.includes("?") ? "&" : "?"}options=${encoded}`;
}

export class RealtimeConnection {
  /** The server's id of the current connection ("" while disconnected). */
  clientId = "";
  /** Called when the server ends the stream with a reason (then the connection reconnects). */
  onDisconnect: ((info: DisconnectInfo) => void) | undefined;
  /** Called when connecting or subscribing fails (the connection keeps retrying unless 401/403). */
  onError: ((error: ClientError) => void) | undefined;
  readonly #client: TenantbaseClient;
  readonly #tenant: string | undefined;
  readonly #delays: number[];
  readonly #connectTimeoutMs: number;
  readonly #listeners = new Map<string, Set<Listener>>();
  #waiters: Waiter[] = [];
  #running = false;
  /** Bumped by #stop: a loop of an older generation ends. */
  #generation = 0;
  #abort: AbortController | undefined;
  #token: string | null = null;
  #sent: string[] = [];
  #syncing: Promise<void> = Promise.resolve();
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  constructor(client: TenantbaseClient, tenant: string | undefined, options: RealtimeOptions = {}) {
    this.#client = client;
    this.#tenant = tenant;
    this.#delays = options.reconnectDelays?.length ? options.reconnectDelays : DEFAULT_DELAYS;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  }

  get isConnected(): boolean {
    return this.clientId !== "";
  }

  /** Topics with at least one listener. */
  get topics(): string[] {
    return [...this.#listeners.keys()];
  }

  /**
   * Calls `callback` with each message's data for `topic` (e.g. "posts/*",
   * "posts/<id>", "events/<name>"); resolves once the server has the
   * subscription, with the function that removes it.
   */
  async subscribe(topic: string, callback: Listener): Promise<UnsubscribeFunc> {
    if (!topic) throw new TypeError("subscribe: the topic must be set");
    let set = this.#listeners.get(topic);
    const added = !set;
    if (!set) {
      set = new Set();
      this.#listeners.set(topic, set);
    }
    const listener: Listener = (data) => callback(data);
    set.add(listener);
    const unsubscribe = async () => {
      const current = this.#listeners.get(topic);
      if (!current?.delete(listener) || current.size > 0) return;
      this.#listeners.delete(topic);
      await this.#submit();
    };
    try {
      if (this.isConnected && added) await this.#submit();
      // Not connected, or the submit found a new token and is reconnecting.
      if (!this.isConnected) await this.#whenReady();
    } catch (error) {
      await unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  /** Removes every listener and closes the connection. */
  async unsubscribeAll(): Promise<void> {
    this.#listeners.clear();
    await this.#submit();
  }

  #whenReady(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new NetworkError(0, "The realtime connection took too long to open.", {}, this.#url),
        );
      }, this.#connectTimeoutMs);
      this.#waiters.push(waiter);
      if (!this.#running) void this.#run();
    });
  }

  get #url(): string {
    return `${this.#client.url}/api/realtime`;
  }

  /** Sends the current topics (serialized); closes the connection when none are left. */
  #submit(): Promise<void> {
    const next = this.#syncing.then(() => this.#send());
    this.#syncing = next.catch(() => {});
    return next;
  }

  async #send(): Promise<void> {
    if (this.#listeners.size === 0) {
      this.#stop();
      return;
    }
    if (!this.isConnected) return;
    if (this.#client.token !== this.#token) {
      // A new credential needs a new connection (the server binds one identity per client).
      this.clientId = "";
      this.#abort?.abort();
      return;
    }
    const topics = this.topics;
    if (topics.length === this.#sent.length && topics.every((t) => this.#sent.includes(t))) return;
    await this.#client.send("/api/realtime", {
      method: "POST",
      body: { clientId: this.clientId, subscriptions: topics },
      ...(this.#tenant !== undefined ? { tenant: this.#tenant } : {}),
    });
    this.#sent = topics;
  }

  #stop(): void {
    this.#running = false;
    this.#generation++;
    this.#abort?.abort();
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
    }
  }

  #report(error: ClientError): void {
    try {
      this.onError?.(error);
    } catch {
      // A listener's problem must not stop reconnecting.
    }
  }

  #settle(error?: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    const generation = this.#generation;
    const current = () => this.#running && this.#generation === generation;
    let attempt = 0;
    while (current() && (this.#listeners.size > 0 || this.#waiters.length > 0)) {
      const abort = new AbortController();
      this.#abort = abort;
      try {
        this.#token = this.#client.token;
        const response = await this.#client.stream("/api/realtime", {
          signal: abort.signal,
          ...(this.#tenant !== undefined ? { tenant: this.#tenant } : {}),
        });
        await this.#read(response, abort, () => {
          attempt = 0;
        });
      } catch (error) {
        const failure =
          error instanceof ClientError
            ? error
            : new NetworkError(
                0,
                `Realtime connection failed: ${(error as Error)?.message}`,
                {},
                this.#url,
              );
        if (!abort.signal.aborted) this.#report(failure);
        if (failure.status === 401 || failure.status === 403) {
          // The credential will not get better by retrying.
          this.#settle(failure);
          if (current()) this.#running = false;
          break;
        }
      } finally {
        if (this.#abort === abort) {
          this.clientId = "";
          this.#sent = [];
        }
        abort.abort();
      }
      if (!current() || (this.#listeners.size === 0 && this.#waiters.length === 0)) break;
      const delay = this.#delays[Math.min(attempt, this.#delays.length - 1)]!;
      attempt++;
      await new Promise<void>((resolve) => {
        this.#sleep = { timer: setTimeout(resolve, delay), resolve };
      });
      this.#sleep = undefined;
    }
    if (this.#generation === generation) this.#running = false;
  }

  /** Reads one stream to its end, dispatching its events. */
  async #read(response: Response, abort: AbortController, connected: () => void): Promise<void> {
    if (!response.ok || !response.body) {
      let body: { message?: unknown; data?: unknown } = {};
      try {
        body = (await response.json()) as typeof body;
      } catch {
        // Not JSON.
      }
      throw errorFor(
        response.status,
        typeof body.message === "string"
          ? body.message
          : `Realtime failed with ${response.status}.`,
        body.data && typeof body.data === "object" ? (body.data as Record<string, unknown>) : {},
        this.#url,
      );
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "";
    let data: string[] = [];
    let id = "";
    const dispatch = async () => {
      const name = event || "message";
      const text = data.join("\n");
      event = "";
      data = [];
      if (name === "PB_CONNECT") {
        this.clientId = id || (JSON.parse(text) as { clientId: string }).clientId;
        try {
          await this.#submit();
          connected();
          this.#settle();
        } catch (error) {
          if (error instanceof ClientError && (error.status === 401 || error.status === 403)) {
            throw error;
          }
          // Anything else: drop this connection and try again.
          this.#report(error as ClientError);
          abort.abort();
        }
        return;
      }
      if (name === "PB_DISCONNECT") {
        try {
          this.onDisconnect?.(JSON.parse(text) as DisconnectInfo);
        } catch {
          // A listener's problem, or not JSON: the stream ends anyway.
        }
        return;
      }
      const listeners = this.#listeners.get(name);
      if (!listeners) return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
      for (const listener of [...listeners]) {
        try {
          listener(value);
        } catch {
          // One listener's error must not stop the others.
        }
      }
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let newline = buffer.search(/\r\n|\r|\n/);
        while (newline !== -1) {
          const line = buffer.slice(0, newline);
          const width = buffer.startsWith("\r\n", newline) ? 2 : 1;
          // A lone \r at the end may be the first half of \r\n: wait for more.
          if (width === 1 && buffer[newline] === "\r" && newline === buffer.length - 1) break;
          buffer = buffer.slice(newline + width);
          if (line === "") {
            if (data.length > 0 || event !== "") await dispatch();
          } else if (!line.startsWith(":")) {
            const colon = line.indexOf(":");
            const field = colon === -1 ? line : line.slice(0, colon);
            let content = colon === -1 ? "" : line.slice(colon + 1);
            if (content.startsWith(" ")) content = content.slice(1);
            if (field === "event") event = content;
            else if (field === "data") data.push(content);
            else if (field === "id") id = content;
          }
          newline = buffer.search(/\r\n|\r|\n/);
        }
      }
    } catch (error) {
      if (abort.signal.aborted) return;
      throw error;
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}
