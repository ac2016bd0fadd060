/**
 * TenantbaseClient: the SDK for the Tenantbase server. Browser-safe (fetch,
 * TextEncoder; no Node modules).
 *
 *   const admin = new TenantbaseClient("http://127.0.0.1:8090", { token: ADMIN_TOKEN });
 *   await admin.settings.databases.create({ name: "acme" });
 *   const posts = await admin.db("acme").collection("posts").getList(1, 20, { sort: "-created" });
 *
 *   const user = new TenantbaseClient("http://127.0.0.1:8090");
 *   await user.db("acme").collection("users").authWithPassword("bob@acme.io", "secret123");
 *   await user.collection("posts").create({ title: "hi" }); // tenant from the token
 *
 * A superuser names the tenant (`db(name)` sends `x-dbname`); a tenant user's
 * tenant is the one in its token (`collection(name)`, or `db(name)` with the
 * same name).
 */
import {
  type ActionArgs,
  type ActionName,
  type ActionResultOf,
  type AnyTenantDefinition,
  callAction,
} from "./actions.js";
import { ClientError, errorFor, NetworkError } from "./errors.js";
import { RealtimeConnection, type UnsubscribeFunc } from "./realtime.js";
import { RecordService } from "./records.js";
import { CollectionsService, DatabasesService } from "./settings.js";
import type { RecordModel } from "./types.js";

export interface ClientOptions {
  /** The admin token (superuser) or a tenant user's token. */
  token?: string | null;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

export interface SendOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Tenant key to send as x-dbname. */
  tenant?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** The x-dbname header carries the key's UTF-8 bytes (headers are byte strings). */
export function encodeTenantHeader(name: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(name)) out += String.fromCharCode(byte);
  return out;
}

export class TenantDatabase<D = AnyTenantDefinition> {
  readonly #client: TenantbaseClient;
  /** The tenant key, or undefined for "the tenant of my token". */
  readonly name: string | undefined;
  readonly #records = new Map<string, RecordService>();

  constructor(client: TenantbaseClient, name?: string) {
    this.#client = client;
    this.name = name;
  }

  collection<T = RecordModel>(name: string): RecordService<T> {
    let service = this.#records.get(name);
    if (!service) {
      service = new RecordService(this.#client, name, this.name);
      this.#records.set(name, service);
    }
    return service as unknown as RecordService<T>;
  }

  /** Calls an action of the tenant definition (typed with `db<typeof definition>(name)`). */
  action<N extends ActionName<D>>(
    name: N,
    ...args: ActionArgs<D, N>
  ): Promise<ActionResultOf<D, N>> {
    return callAction(this.#client, this.name, name, args[0], args[1]);
  }

  /** Calls `callback` with the payload of each `event` broadcast on this database (realtime). */
  on<P = unknown>(event: string, callback: (payload: P) => void): Promise<UnsubscribeFunc> {
    return this.#client
      .realtime(this.name)
      .subscribe(`events/${event}`, (data) => callback(data as P));
  }
}

export class TenantbaseClient {
  readonly url: string;
  /** The credential sent as `Authorization: Bearer <token>`. */
  token: string | null;
  /** The signed-in tenant user, after authWithPassword/authRefresh. */
  authRecord: RecordModel | null = null;
  readonly settings: { databases: DatabasesService; collections: CollectionsService };
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #databases = new Map<string, TenantDatabase>();
  readonly #own: TenantDatabase;
  readonly #realtime = new Map<string, RealtimeConnection>();

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.token = options.token ?? null;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#headers = { ...options.headers };
    this.settings = {
      databases: new DatabasesService(this),
      collections: new CollectionsService(this),
    };
    this.#own = new TenantDatabase(this);
  }

  /** A tenant's database by name (sent as x-dbname); without a name, the token's tenant. */
  db<D = AnyTenantDefinition>(name?: string): TenantDatabase<D> {
    if (name === undefined) return this.#own as TenantDatabase<D>;
    let db = this.#databases.get(name);
    if (!db) {
      db = new TenantDatabase(this, name);
      this.#databases.set(name, db);
    }
    return db as TenantDatabase<D>;
  }

  /** A collection of the signed-in user's tenant (the tenant comes from the token). */
  collection<T = RecordModel>(name: string): RecordService<T> {
    return this.#own.collection<T>(name);
  }

  /** The realtime connection of a database (one per database; undefined: the token's tenant). */
  realtime(name?: string): RealtimeConnection {
    const key = name === undefined ? "" : `=${name}`;
    let connection = this.#realtime.get(key);
    if (!connection) {
      connection = new RealtimeConnection(this, name);
      this.#realtime.set(key, connection);
    }
    return connection;
  }

  /** A streaming GET (realtime): the Response as is, headers as for send(). */
  stream(path: string, options: { tenant?: string; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.#headers, Accept: "text/event-stream" };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (options.tenant !== undefined) headers["x-dbname"] = encodeTenantHeader(options.tenant);
    return this.#fetch(this.url + path, {
      headers,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Signs out: forgets the token and the user. */
  logout(): void {
    this.token = null;
    this.authRecord = null;
  }

  async health(): Promise<{ code: number; message: string }> {
    return this.send("/api/health");
  }

  /**
   * Builds a filter with values quoted safely: `client.filter("title = {:t}", { t })`.
   * (The server binds every value as a parameter anyway; this keeps quotes in strings intact.)
   */
  filter(expression: string, params: Record<string, unknown> = {}): string {
    return expression.replace(/\{:([A-Za-z0-9_]+)\}/g, (whole, key: string) => {
      if (!(key in params)) return whole;
      const value = params[key];
      if (value === null || value === undefined) return "null";
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      if (value instanceof Date) return JSON.stringify(value.toISOString().replace("T", " "));
      if (typeof value === "string") return JSON.stringify(value);
      return JSON.stringify(JSON.stringify(value));
    });
  }

  /** Sends one request; resolves with the JSON body, throws a ClientError subclass otherwise. */
  async send<T>(path: string, options: SendOptions = {}): Promise<T> {
    let url = this.url + path;
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    if (query.size > 0) url += `?${query}`;
    const headers: Record<string, string> = { ...this.#headers, ...options.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (options.tenant !== undefined) headers["x-dbname"] = encodeTenantHeader(options.tenant);
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: options.method ?? "GET",
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      const aborted = (error as Error)?.name === "AbortError";
      throw new NetworkError(
        0,
        aborted
          ? "The request was aborted."
          : `Failed to reach ${this.url}: ${(error as Error).message}`,
        {},
        url,
        { cause: error, isAbort: aborted },
      );
    }
    const text = await response.text();
    let body: unknown;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!response.ok) {
      const shaped = (body ?? {}) as { message?: unknown; data?: unknown };
      throw errorFor(
        response.status,
        typeof shaped.message === "string"
          ? shaped.message
          : `Request failed with status ${response.status}.`,
        shaped.data && typeof shaped.data === "object"
          ? (shaped.data as Record<string, unknown>)
          : {},
        url,
      );
    }
    return body as T;
  }
}

export { ClientError };
