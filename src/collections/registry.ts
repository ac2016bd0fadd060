/**
 * The collections of a hub: definitions in the catalog, the change log that
 * becomes the tenant migration track, and the in-memory view requests use.
 *
 * A change is committed to the catalog (definition and change rows in one
 * transaction), then the migration list grows and the hub reloads its schema
 * (open tenants close and migrate on their next use), and only then do
 * requests see the new definition; since changes only add, a request on the
 * old definition is valid on the new schema too.
 */
import type { Generated, Kysely } from "kysely";
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

  constructor(hub: Tenantbase) {
    this.#hub = hub;
    this.#db = hub.catalog.db as unknown as Kysely<CollectionsCatalogSchema>;
    this.#dialect = hub.driver.dialect;
  }

  get dialect(): Dialect {
    return this.#dialect;
  }

  /** Reads definitions and changes from the catalog (at startup). */
  async load(): Promise<void> {
    const rows = await this.#db
      .selectFrom("collections")
      .select(["definition"])
      .where("deleted_at", "is", null)
      .orderBy("id")
      .execute();
    const changes = await this.#db
      .selectFrom("collection_changes")
      .select(["seq", "migration_name", "payload"])
      .orderBy("seq")
      .execute();
    this.#changes = changes.map((row) => ({
      seq: Number(row.seq),
      migrationName: row.migration_name,
      payload: row.payload,
    }));
    this.#migrations = this.#changes.map((row) => changeToMigration(row, this.#dialect));
    this.#publish(rows.map((row) => new Collection(JSON.parse(row.definition))));
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
    return this.#mutex.run(async () => {
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
      await this.#commit(definition, [change], now, "insert");
      return this.require(definition.id);
    });
  }

  async update(idOrName: string, input: unknown): Promise<Collection> {
    const parsed = collectionUpdateSchema.safeParse(input);
    if (!parsed.success) {
      throw new ValidationFailed("Failed to update the collection.", zodErrors(parsed.error));
    }
    return this.#mutex.run(async () => {
      const current = this.require(idOrName);
      const now = Date.now();
      const { definition, changes } = definitionFromUpdate(
        current.definition,
        parsed.data,
        formatDate(new Date(now)),
        this.#resolver(),
      );
      this.#checkRules(definition);
      await this.#commit(definition, changes, now, "update");
      return this.require(definition.id);
    });
  }

  /** Soft delete: hidden from the API, the data kept in every tenant under another table name. */
  async delete(idOrName: string): Promise<void> {
    await this.#mutex.run(async () => {
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
      await this.#commit(current.definition, [change], Date.now(), "delete");
    });
  }

  async #commit(
    definition: CollectionDefinition,
    changes: SchemaChange[],
    now: number,
    mode: "insert" | "update" | "delete",
  ): Promise<void> {
    const rows: ChangeRow[] = changes.map((change, i) => ({
      seq: 0,
      migrationName: migrationName(this.#changes.length + i + 1, change),
      payload: JSON.stringify(change),
    }));
    await this.#db.transaction().execute(async (trx) => {
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
        const inserted = await trx
          .insertInto("collection_changes")
          .values({
            collection_id: definition.id,
            migration_name: row.migrationName,
            payload: row.payload,
            created_at: now,
          })
          .returning("seq")
          .executeTakeFirstOrThrow();
        row.seq = Number(inserted.seq);
      }
    });
    if (rows.length > 0) {
      this.#changes = [...this.#changes, ...rows];
      this.#migrations = [
        ...this.#migrations,
        ...rows.map((row) => changeToMigration(row, this.#dialect)),
      ];
      await this.#hub.reloadSchema();
    }
    const next = this.list().flatMap((c) =>
      c.id !== definition.id ? [c] : mode === "delete" ? [] : [new Collection(definition)],
    );
    if (mode === "insert") next.push(new Collection(definition));
    this.#publish(next);
  }
}

export type { Rules };
