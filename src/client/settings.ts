/** Superuser calls: databases (tenants) and collection definitions. */
import type { TenantbaseClient } from "./client.js";
import type { CollectionInput, CollectionModel, DatabaseInfo, ListResult } from "./types.js";

export class DatabasesService {
  readonly #client: TenantbaseClient;

  constructor(client: TenantbaseClient) {
    this.#client = client;
  }

  create(input: { name: string; metadata?: Record<string, unknown> }): Promise<DatabaseInfo> {
    return this.#client.send("/api/databases", { method: "POST", body: input });
  }

  list(): Promise<DatabaseInfo[]> {
    return this.#client.send("/api/databases");
  }

  /** Deletes the database (the server keeps a final copy). */
  async delete(name: string): Promise<true> {
    // "." and ".." cannot be a URL path segment; the query form takes any name.
    await this.#client.send(
      name === "." || name === ".."
        ? "/api/databases"
        : `/api/databases/${encodeURIComponent(name)}`,
      { method: "DELETE", ...(name === "." || name === ".." ? { query: { name } } : {}) },
    );
    return true;
  }
}

export class CollectionsService {
  readonly #client: TenantbaseClient;

  constructor(client: TenantbaseClient) {
    this.#client = client;
  }

  async list(): Promise<CollectionModel[]> {
    const items: CollectionModel[] = [];
    for (let page = 1; ; page++) {
      const result = await this.#client.send<ListResult<CollectionModel>>("/api/collections", {
        query: { page, perPage: 1000 },
      });
      items.push(...result.items);
      if (result.items.length < 1000) return items;
    }
  }

  get(name: string): Promise<CollectionModel> {
    return this.#client.send(`/api/collections/${encodeURIComponent(name)}`);
  }

  create(input: CollectionInput & { name: string }): Promise<CollectionModel> {
    return this.#client.send("/api/collections", { method: "POST", body: input });
  }

  /** Adds fields, loosens options, replaces rules (changes are append-only). */
  update(name: string, changes: CollectionInput): Promise<CollectionModel> {
    return this.#client.send(`/api/collections/${encodeURIComponent(name)}`, {
      method: "PATCH",
      body: changes,
    });
  }

  /** Soft delete: hidden from the API; the data stays in every tenant. */
  async delete(name: string): Promise<true> {
    await this.#client.send(`/api/collections/${encodeURIComponent(name)}`, { method: "DELETE" });
    return true;
  }
}
