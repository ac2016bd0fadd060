/** Records of one collection, in one tenant (PocketBase's record calls). */
import type { TenantbaseClient } from "./client.js";
import { NotFoundError } from "./errors.js";
import {
  type RecordSubscription,
  type SubscribeOptions,
  topicWithOptions,
  type UnsubscribeFunc,
} from "./realtime.js";
import type { AuthResponse, ListOptions, ListResult, RecordModel, RecordOptions } from "./types.js";

export class RecordService<T = RecordModel> {
  readonly #client: TenantbaseClient;
  readonly collection: string;
  /** x-dbname to send, or undefined to rely on the token's tenant. */
  readonly tenant: string | undefined;

  constructor(client: TenantbaseClient, collection: string, tenant?: string) {
    this.#client = client;
    this.collection = collection;
    this.tenant = tenant;
  }

  get #base(): string {
    return `/api/collections/${encodeURIComponent(this.collection)}`;
  }

  #send<R>(path: string, options: Parameters<TenantbaseClient["send"]>[1] = {}): Promise<R> {
    return this.#client.send<R>(this.#base + path, {
      ...options,
      ...(this.tenant !== undefined ? { tenant: this.tenant } : {}),
    });
  }

  async getList(page = 1, perPage = 30, options: ListOptions = {}): Promise<ListResult<T>> {
    return this.#send("/records", {
      query: {
        page,
        perPage,
        filter: options.filter,
        sort: options.sort,
        skipTotal: options.skipTotal ? "true" : undefined,
        fields: options.fields,
      },
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    });
  }

  /** Every matching record, fetched in batches (default 500). */
  async getFullList(options: ListOptions & { batch?: number } = {}): Promise<T[]> {
    const batch = options.batch ?? 500;
    const items: T[] = [];
    for (let page = 1; ; page++) {
      const result = await this.getList(page, batch, { ...options, skipTotal: true });
      items.push(...result.items);
      if (result.items.length < batch) return items;
    }
  }

  async getFirstListItem(filter: string, options: ListOptions = {}): Promise<T> {
    const result = await this.getList(1, 1, { ...options, filter, skipTotal: true });
    const first = result.items[0];
    if (first === undefined) {
      throw new NotFoundError(404, "The requested resource wasn't found.", {}, this.#base);
    }
    return first;
  }

  async getOne(id: string, options: RecordOptions = {}): Promise<T> {
    return this.#send(`/records/${encodeURIComponent(id)}`, {
      query: { fields: options.fields },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async create(body: Record<string, unknown>, options: RecordOptions = {}): Promise<T> {
    return this.#send("/records", {
      method: "POST",
      body,
      query: { fields: options.fields },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async update(id: string, body: Record<string, unknown>, options: RecordOptions = {}): Promise<T> {
    return this.#send(`/records/${encodeURIComponent(id)}`, {
      method: "PATCH",
      body,
      query: { fields: options.fields },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async delete(id: string): Promise<true> {
    await this.#send(`/records/${encodeURIComponent(id)}`, { method: "DELETE" });
    return true;
  }

  /** Signs a user of this auth collection in; the client then sends its token. */
  async authWithPassword(identity: string, password: string): Promise<AuthResponse<T>> {
    const auth = await this.#send<AuthResponse<T>>("/auth-with-password", {
      method: "POST",
      body: { identity, password },
    });
    this.#client.token = auth.token;
    this.#client.authRecord = auth.record as unknown as RecordModel;
    return auth;
  }

  /** A fresh token for the signed-in user. */
  async authRefresh(): Promise<AuthResponse<T>> {
    const auth = await this.#send<AuthResponse<T>>("/auth-refresh", { method: "POST" });
    this.#client.token = auth.token;
    this.#client.authRecord = auth.record as unknown as RecordModel;
    return auth;
  }

  /**
   * Realtime: `topic` is "*" (every record the list rule shows) or a record
   * id (view rule); resolves once subscribed, with the unsubscribe function.
   */
  subscribe(
    topic: string,
    callback: (event: RecordSubscription<T>) => void,
    options: SubscribeOptions = {},
  ): Promise<UnsubscribeFunc> {
    return this.#client
      .realtime(this.tenant)
      .subscribe(topicWithOptions(`${this.collection}/${topic}`, options), (data) =>
        callback(data as RecordSubscription<T>),
      );
  }
}
