/**
 * The collections of a hub: definitions in the catalog, the change log that
 * becomes the tenant migration track, and the in-memory view requests use.
 *
 * A change is committed to the catalog (definition and change rows in one
 * transaction), then the migration list grows and the hub reloads its schema
 * (open tenants close and migrate on their next use), and only then do
 * requests see the new definition; since changes only add, a request on the
 * old definition is valid on the new schema too.
 *
 * Several processes on one catalog (PostgreSQL): a change takes a lock on
 * the change log inside its catalog transaction and checks that this
 * process's view is the catalog's latest (else it reloads and plans the
 * change again), so changes from different processes are serialised and
 * numbered one after another. Its transaction also signals the other
 * processes (`hub.peers`, delivered at commit), which reload: the same
 * steps as a local change (migrations, schema reload, then definitions),
 * idempotent, serialised with changes, and skipped when the catalog's
 * version (a checksum of definitions and change log) is the one they have.
 */
import { createHash } from "node:crypto";
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Generated,
  type Kysely,
  sql,
} from "kysely";
import type { Tenantbase } from "../core/hub.js";
import type { ResolvedMigration } from "../migrations/migration.js";
import { Mutex } from "../tools/mutex.js";
import { Collection } from "./collection.js";
import {
  type CollectionDefinition,
  definitionFromCreate,
  definitionFromUpdate,
  type SchemaChange,
} from "./definition.js";
import { CollectionNotFound, type FieldErrors, fieldError, ValidationFailed } from "./errors.js";
import { FilterError, filterToSql } from "./filter/index.js";
import { formatDate, newCollectionId } from "./ids.js";
import { type ChangeRow, changeToMigration, type Dialect, migrationName } from "./migrations.js";
import { filterContext } from "./rules.js";
import {
  collectionCreateSchema,
  collectionUpdateSchema,
  RULE_NAMES,
  type Rules,
} from "./schema.js";
import { zodErrors } from "./zod-errors.js";

export interface CollectionsCatalogSchema {
  collections: {
    id: Generated<number>;
    collection_id: string;
    name: string;
    name_key: string;
    type: string;
    definition: string;
    created_at: number;
    updated_at: number;
    deleted_at: number | null;
  };
  collection_changes: {
    seq: Generated<number>;
    collection_id: string;
    migration_name: string;
    payload: string;
    created_at: number;
  };
}

const COLLECTION_ID = /^[a-z0-9_]{3,40}$/;

/** The peer signal a committed collection change sends (payload: `{ version }`). */
export const COLLECTIONS_CHANGED = "collections";

/** A change planned against this process's view, written if that view is the catalog's. */
interface Plan {
  definition: CollectionDefinition;
  changes: SchemaChange[];
  now: number;
  mode: "insert" | "update" | "delete";
}

/** What the catalog holds, as one version. */
interface CatalogState {
  definitions: string[];
  changes: ChangeRow[];
  version: string;
}

/** Changes planned on a view another process had changed meanwhile. */
class StaleView extends Error {}

export class Collections {
  readonly #hub: Tenantbase;
  readonly #db: Kysely<CollectionsCatalogSchema>;
  readonly #dialect: Dialect;
  readonly #mutex = new Mutex();
  /** Live collections by lower-cased name and by id. */
  #byName = new Map<string, Collection>();
  #byId = new Map<string, Collection>();
  #changes: ChangeRow[] = [];
  #migrations: ResolvedMigration[] = [];
  /** The catalog version this view is (see #read); undefined before the first load. */
  #version: string | undefined;
  #reloadQueued = false;

  constructor(hub: Tenantbase) {
    this.#hub = hub;
    this.#db = hub.catalog.db as unknown as Kysely<CollectionsCatalogSchema>;
    this.#dialect = hub.driver.dialect;
  }

  get dialect(): Dialect {
    return this.#dialect;
  }

  /** The catalog version this process's view is (a checksum of definitions and change log). */
  get version(): string | undefined {
    return this.#version;
  }

  /** Reads definitions and changes from the catalog (at startup, or after a copy). */
  async load(): Promise<void> {
    await this.reload();
  }

  /**
   * Re-reads the catalog and applies what changed: new migrations first
   * (then the hub reloads its schema, so open tenants migrate on their next
   * use), then the definitions requests see. Serialised with changes and
   * other reloads, so the view never goes back to an older state; returns
   * whether anything changed.
   */
  reload(): Promise<boolean> {
    return this.#mutex.run(() => this.#refresh());
  }

  /**
   * Another process changed the collections: reloads soon (calls that come
   * while one is queued share it; a failed reload is retried with backoff).
   */
  async reloadSoon(version?: unknown, onError?: (error: unknown) => void): Promise<void> {
    if (version !== undefined && version === this.#version) return;
    if (this.#reloadQueued) return;
    this.#reloadQueued = true;
    for (let delay = 100; ; delay = Math.min(delay * 2, 30_000)) {
      try {
        await this.#mutex.run(() => {
          // From here on, a new signal queues a reload of its own.
          this.#reloadQueued = false;
          return this.#refresh();
        });
        return;
      } catch (error) {
        onError?.(error);
        if (this.#reloadQueued) return;
        this.#reloadQueued = true;
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  /**
   * The catalog's state. Definitions are read before the change log: a
   * change committing in between leaves the log ahead of the definitions,
   * never behind (it only adds), and its signal brings a later reload.
   */
  async #read(db: Kysely<CollectionsCatalogSchema>): Promise<CatalogState> {
    const rows = await db
      .selectFrom("collections")
      .select(["definition"])
      .where("deleted_at", "is", null)
      .orderBy("id")
      .execute();
    const changes = (
      await db
        .selectFrom("collection_changes")
        .select(["seq", "migration_name", "payload"])
        .orderBy("seq")
        .execute()
    ).map((row) => ({
      seq: Number(row.seq),
      migrationName: row.migration_name,
      payload: row.payload,
    }));
    const definitions = rows.map((row) => row.definition);
    const version = createHash("sha256")
      .update(JSON.stringify([definitions, changes.map((c) => [c.seq, c.migrationName])]))
      .digest("base64url")
      .slice(0, 22);
    return { definitions, changes, version };
  }

  /** Reads the catalog and applies it if it is not the version this view is (under the mutex). */
  async #refresh(): Promise<boolean> {
    return this.#apply(await this.#read(this.#db));
  }

  /** Makes `state` this view unless it is that version already (under the mutex). */
  async #apply(state: CatalogState): Promise<boolean> {
    if (state.version === this.#version) return false;
    const grew =
      state.changes.length !== this.#changes.length ||
      state.changes.some((row, i) => row.migrationName !== this.#changes[i]?.migrationName);
    if (grew) {
      this.#changes = state.changes;
      this.#migrations = state.changes.map((row) => changeToMigration(row, this.#dialect));
      // Before the first load no tenant has this track yet: nothing to reload.
      if (this.#version !== undefined) await this.#hub.reloadSchema();
    }
    this.#publish(state.definitions.map((text) => new Collection(JSON.parse(text))));
    this.#version = state.version;
    return true;
  }

  /** The tenant migrations every collection change made, in order. */
  migrations(): readonly ResolvedMigration[] {
    return this.#migrations;
  }

  list(): Collection[] {
    return [...this.#byId.values()];
  }

  /** A live collection by id or name (names are case-insensitive). */
  get(idOrName: string): Collection | undefined {
    return this.#byId.get(idOrName) ?? this.#byName.get(idOrName.toLowerCase());
  }

  require(idOrName: string): Collection {
    const collection = this.get(idOrName);
    if (!collection) throw new CollectionNotFound(idOrName);
    return collection;
  }

  #publish(collections: Collection[]): void {
    this.#byName = new Map(collections.map((c) => [c.name.toLowerCase(), c]));
    this.#byId = new Map(collections.map((c) => [c.id, c]));
  }

  #resolver() {
    return (idOrName: string) => this.get(idOrName);
  }

  /** Every non-empty rule must compile against the collection's fields. */
  #checkRules(definition: CollectionDefinition): void {
    const collection = new Collection(definition);
    const errors: FieldErrors = {};
    for (const name of RULE_NAMES) {
      const rule = definition.rules[name];
      if (!rule) continue;
      try {
        filterToSql(
          rule,
          filterContext(collection, this.#dialect, { superuser: false, auth: {} }, {}, true),
        );
      } catch (error) {
        if (!(error instanceof FilterError)) throw error;
        errors[name] = fieldError("validation_invalid_rule", error.message);
      }
    }
    if (Object.keys(errors).length > 0)
      throw new ValidationFailed("Invalid collection rules.", errors);
  }

  /** Tables already in tenant databases (the app's own migrations) cannot become collections. */
  async #checkTableFree(name: string): Promise<void> {
    const page = await this.#hub.tenants.list({ limit: 1, status: "active" });
    const sample = page.items[0];
    if (!sample) return;
    const handle = await this.#hub.tenant(sample.key);
    const tables = await handle.db.introspection.getTables();
    if (tables.some((t) => t.name.toLowerCase() === name.toLowerCase())) {
      throw new ValidationFailed("Failed to create the collection.", {
        name: fieldError(
          "validation_collection_name_exists",
          `A table named ${name} already exists in tenant databases.`,
        ),
      });
    }
  }

  async create(input: unknown): Promise<Collection> {
    const parsed = collectionCreateSchema.safeParse(input);
    if (!parsed.success) {
      throw new ValidationFailed("Failed to create the collection.", zodErrors(parsed.error));
    }
    const created = await this.#change(async () => {
      const data = parsed.data;
      const nameTaken =
        this.#byName.has(data.name.toLowerCase()) || /^(sqlite_|pg_)/i.test(data.name);
      if (nameTaken) {
        throw new ValidationFailed("Failed to create the collection.", {
          name: fieldError(
            "validation_collection_name_exists",
            "Collection name must be unique (case insensitive).",
          ),
        });
      }
      const collectionId = data.id ?? newCollectionId();
      if (!COLLECTION_ID.test(collectionId) || this.#byId.has(collectionId)) {
        throw new ValidationFailed("Failed to create the collection.", {
          id: fieldError(
            "validation_invalid_id",
            "Must be 3-40 characters of a-z, 0-9 and _, unused.",
          ),
        });
      }
      const now = Date.now();
      const { definition, change } = definitionFromCreate(
        data,
        { collectionId, now: formatDate(new Date(now)) },
        this.#resolver(),
      );
      this.#checkRules(definition);
      await this.#checkTableFree(definition.name);
      return { definition, changes: [change], now, mode: "insert" };
    });
    if (!created) throw new CollectionNotFound(parsed.data.name);
    return created;
  }

  async update(idOrName: string, input: unknown): Promise<Collection> {
    const parsed = collectionUpdateSchema.safeParse(input);
    if (!parsed.success) {
      throw new ValidationFailed("Failed to update the collection.", zodErrors(parsed.error));
    }
    const updated = await this.#change(async () => {
      const current = this.require(idOrName);
      const now = Date.now();
      const { definition, changes } = definitionFromUpdate(
        current.definition,
        parsed.data,
        formatDate(new Date(now)),
        this.#resolver(),
      );
      this.#checkRules(definition);
      return { definition, changes, now, mode: "update" };
    });
    if (!updated) throw new CollectionNotFound(idOrName);
    return updated;
  }

  /** Soft delete: hidden from the API, the data kept in every tenant under another table name. */
  async delete(idOrName: string): Promise<void> {
    await this.#change(async () => {
      const current = this.require(idOrName);
      for (const other of this.list()) {
        if (other.id === current.id) continue;
        const field = other.fields.find(
          (f) => f.type === "relation" && f.collectionId === current.id,
        );
        if (field) {
          throw new ValidationFailed("Failed to delete the collection.", {
            name: fieldError(
              "validation_collection_referenced",
              `Collection ${other.name} refers to it (field ${field.name}).`,
            ),
          });
        }
      }
      const change: SchemaChange = {
        kind: "delete",
        collection: { id: current.id, name: current.name },
        archivedAs: `_deleted_${current.id}`,
      };
      return { definition: current.definition, changes: [change], now: Date.now(), mode: "delete" };
    });
  }

  /**
   * Plans a change on this view and commits it; when another process
   * changed the collections meanwhile, reloads and plans again (so its
   * checks see the latest definitions). Returns the changed collection
   * (undefined once deleted).
   */
  async #change(plan: () => Promise<Plan>): Promise<Collection | undefined> {
    return this.#mutex.run(async () => {
      for (let attempt = 1; ; attempt++) {
        const planned = await plan();
        try {
          await this.#commit(planned);
        } catch (error) {
          if (!(error instanceof StaleView)) throw error;
          if (attempt >= 5) {
            throw new Error(
              "collections: other processes kept changing the collections; try the change again",
            );
          }
          await this.#refresh();
          continue;
        }
        return this.get(planned.definition.id);
      }
    });
  }

  async #commit({ definition, changes, now, mode }: Plan): Promise<void> {
    const rows: ChangeRow[] = changes.map((change, i) => ({
      seq: 0,
      migrationName: migrationName(this.#changes.length + i + 1, change),
      payload: JSON.stringify(change),
    }));
    const after = await this.#db.transaction().execute(async (trx) => {
      if (this.#dialect === "postgres") {
        // One change at a time over every process sharing the catalog (plain reads go on).
        await sql`lock table ${sql.table("collection_changes")} in exclusive mode`.execute(trx);
      }
      if ((await this.#read(trx)).version !== this.#version) throw new StaleView();
      const text = JSON.stringify(definition);
      if (mode === "insert") {
        await trx
          .insertInto("collections")
          .values({
            collection_id: definition.id,
            name: definition.name,
            name_key: definition.name.toLowerCase(),
            type: definition.type,
            definition: text,
            created_at: now,
            updated_at: now,
            deleted_at: null,
          })
          .execute();
      } else {
        await trx
          .updateTable("collections")
          .set(
            mode === "delete"
              ? { deleted_at: now, updated_at: now }
              : { definition: text, updated_at: now },
          )
          .where("collection_id", "=", definition.id)
          .where("deleted_at", "is", null)
          .execute();
      }
      for (const row of rows) {
        await trx
          .insertInto("collection_changes")
          .values({
            collection_id: definition.id,
            migration_name: row.migrationName,
            payload: row.payload,
            created_at: now,
          })
          .execute();
      }
      const state = await this.#read(trx);
      // The other processes reload when this commits (nothing without an event transport).
      await this.#hub.peers.send(
        COLLECTIONS_CHANGED,
        { version: state.version },
        connectionOf(trx),
      );
      return state;
    });
    await this.#apply(after);
  }
}

/** A Kysely transaction as the DatabaseConnection an event transport sends on. */
function connectionOf(trx: Kysely<CollectionsCatalogSchema>): DatabaseConnection {
  return {
    executeQuery: <R>(query: CompiledQuery) => trx.executeQuery(query as CompiledQuery<R>),
    streamQuery: () => {
      throw new Error("collections: streaming on a catalog transaction is not supported");
    },
  };
}

export type { Rules };
