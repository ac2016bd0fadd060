/**
 * The catalog (control plane): a database of its own that knows every tenant
 * (key, storage name, status, schema version, times, metadata) and, as the
 * engine grows, migration runs and backups. Tenant data never lives here.
 */
import { type Generated, type Kysely, sql, type Transaction } from "kysely";
import type { StorageDriver } from "../drivers/driver.js";
import { type Migration, resolveMigrations } from "../migrations/migration.js";
import { type MigrateOptions, migrateToLatest } from "../migrations/migrator.js";
import { InvalidArgument } from "./errors.js";

export type TenantStatus = "active" | "suspended" | "failed" | "deleted";
export const TENANT_STATUSES: readonly TenantStatus[] = [
  "active",
  "suspended",
  "failed",
  "deleted",
];

export interface TenantsTable {
  id: Generated<number>;
  key: string;
  storage_name: string;
  status: TenantStatus;
  schema_version: number;
  created_at: number;
  updated_at: number;
  last_active_at: number | null;
  metadata: string;
  error: string | null;
  archive_path: string | null;
  /**
   * Per migration track table, how many migrations the tenant is held at
   * (set by a rollback; JSON). Wakes migrate no further; the next fleet run
   * clears it.
   */
  pinned: string | null;
}

export type RunKind = "migrate" | "trial" | "rollback";
export type RunStatus = "running" | "completed" | "stopped" | "interrupted";

export interface MigrationRunsTable {
  id: Generated<number>;
  kind: RunKind;
  status: RunStatus;
  /** JSON: the options the run was started with (tenant selection, concurrency, ...). */
  options: string;
  target_version: number;
  /** For a rollback: the run it undoes. */
  rollback_of: number | null;
  /** host:pid of the process running it, to tell an interrupted run from a running one. */
  owner: string;
  heartbeat_at: number;
  started_at: number;
  finished_at: number | null;
}

export type OutcomeKind =
  | "pending"
  | "migrated"
  | "skipped"
  | "failed"
  | "not-reached"
  | "would-migrate"
  | "would-fail"
  | "rolled-back"
  | "not-applied";

export interface MigrationOutcomesTable {
  run_id: number;
  tenant_id: number;
  tenant_key: string;
  /** The tenant's place in the run's order. */
  position: number;
  outcome: OutcomeKind;
  from_version: number | null;
  to_version: number | null;
  error: string | null;
  finished_at: number | null;
}

export interface CatalogSchema {
  tenants: TenantsTable;
  migration_runs: MigrationRunsTable;
  migration_outcomes: MigrationOutcomesTable;
}

export type TenantRow = {
  [K in keyof TenantsTable]: TenantsTable[K] extends Generated<infer T> ? T : TenantsTable[K];
};

/** A tenant as the library and the API show it. */
export interface TenantInfo {
  key: string;
  storageName: string;
  status: TenantStatus;
  schemaVersion: number;
  createdAt: Date;
  updatedAt: Date;
  /** Last time the tenant woke or went to sleep (updated in batches, not per request). */
  lastActiveAt: Date | null;
  metadata: Record<string, unknown>;
  /** Why the tenant is failed, when it is. */
  error: string | null;
  /** Where the final copy of a deleted tenant's database was kept. */
  archivePath: string | null;
  /** Set after a rollback: per migration table, the version the tenant is held at until the next run. */
  pinned: Record<string, number> | null;
}

export interface ListTenantsOptions {
  /** 1–1000, default 100. */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string | null;
  /** Only tenants in this status. Deleted tenants are listed only when asked for. */
  status?: TenantStatus;
}

export interface TenantPage {
  items: TenantInfo[];
  /** Pass to the next call; null on the last page. */
  nextCursor: string | null;
}

const MAX_METADATA_BYTES = 64 * 1024;

export function toTenantInfo(row: TenantRow): TenantInfo {
  return {
    key: row.key,
    storageName: row.storage_name,
    status: row.status,
    schemaVersion: Number(row.schema_version),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    lastActiveAt: row.last_active_at == null ? null : new Date(Number(row.last_active_at)),
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    error: row.error,
    archivePath: row.archive_path,
    pinned: row.pinned ? (JSON.parse(row.pinned) as Record<string, number>) : null,
  };
}

export function serializeMetadata(metadata: unknown): string {
  if (metadata === undefined || metadata === null) return "{}";
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new InvalidArgument("Tenant metadata must be a JSON object.");
  }
  let text: string;
  try {
    text = JSON.stringify(metadata);
  } catch (error) {
    throw new InvalidArgument(
      `Tenant metadata is not serialisable as JSON: ${(error as Error).message}`,
    );
  }
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES) {
    throw new InvalidArgument(
      `Tenant metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON.`,
    );
  }
  return text;
}

function encodeCursor(key: string, id: number): string {
  return Buffer.from(JSON.stringify([key, id])).toString("base64url");
}

function decodeCursor(cursor: string): [string, number] {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && typeof value[0] === "string" && Number.isInteger(value[1])) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgument("Invalid cursor.");
}

/** Column types per dialect, so one list of catalog migrations serves every driver. */
function columnTypes(dialect: StorageDriver["dialect"]) {
  return dialect === "postgres"
    ? ({ id: "bigserial", bigint: "bigint" } as const)
    : ({ id: "integer", bigint: "integer" } as const);
}

/** The engine's own catalog migrations. Append only: released entries never change. */
export function catalogMigrations(dialect: StorageDriver["dialect"]): Migration[] {
  const t = columnTypes(dialect);
  return [
    {
      name: "0001_tenants",
      checksum: "0001_tenants",
      async up(db) {
        await db.schema
          .createTable("tenants")
          .addColumn("id", t.id, (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("key", "text", (c) => c.notNull())
          .addColumn("storage_name", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("schema_version", "integer", (c) => c.notNull().defaultTo(0))
          .addColumn("created_at", t.bigint, (c) => c.notNull())
          .addColumn("updated_at", t.bigint, (c) => c.notNull())
          .addColumn("last_active_at", t.bigint)
          .addColumn("metadata", "text", (c) => c.notNull().defaultTo("{}"))
          .addColumn("error", "text")
          .addColumn("archive_path", "text")
          .execute();
        // One live tenant per key and per storage name; deleted ones are history.
        await db.schema
          .createIndex("tenants_live_key")
          .on("tenants")
          .column("key")
          .unique()
          .where(sql.ref("status"), "<>", "deleted")
          .execute();
        await db.schema
          .createIndex("tenants_live_storage")
          .on("tenants")
          .column("storage_name")
          .unique()
          .where(sql.ref("status"), "<>", "deleted")
          .execute();
        await db.schema
          .createIndex("tenants_key_id")
          .on("tenants")
          .columns(["key", "id"])
          .execute();
        await db.schema
          .createIndex("tenants_status_key_id")
          .on("tenants")
          .columns(["status", "key", "id"])
          .execute();
      },
    },
    {
      name: "0002_migration_runs",
      checksum: "0002_migration_runs",
      async up(db) {
        await db.schema.alterTable("tenants").addColumn("pinned", "text").execute();
        await db.schema
          .createTable("migration_runs")
          .addColumn("id", t.id, (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("kind", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("options", "text", (c) => c.notNull())
          .addColumn("target_version", "integer", (c) => c.notNull())
          .addColumn("rollback_of", t.bigint)
          .addColumn("owner", "text", (c) => c.notNull())
          .addColumn("heartbeat_at", t.bigint, (c) => c.notNull())
          .addColumn("started_at", t.bigint, (c) => c.notNull())
          .addColumn("finished_at", t.bigint)
          .execute();
        await db.schema
          .createTable("migration_outcomes")
          .addColumn("run_id", t.bigint, (c) => c.notNull())
          .addColumn("tenant_id", t.bigint, (c) => c.notNull())
          .addColumn("tenant_key", "text", (c) => c.notNull())
          .addColumn("position", "integer", (c) => c.notNull())
          .addColumn("outcome", "text", (c) => c.notNull())
          .addColumn("from_version", "integer")
          .addColumn("to_version", "integer")
          .addColumn("error", "text")
          .addColumn("finished_at", t.bigint)
          .addPrimaryKeyConstraint("migration_outcomes_pk", ["run_id", "tenant_id"])
          .execute();
        await db.schema
          .createIndex("migration_outcomes_run_outcome")
          .on("migration_outcomes")
          .columns(["run_id", "outcome", "position"])
          .execute();
        await db.schema
          .createIndex("migration_outcomes_run_position")
          .on("migration_outcomes")
          .columns(["run_id", "position"])
          .execute();
      },
    },
    {
      name: "0003_collections",
      checksum: "0003_collections",
      async up(db) {
        // Collection definitions (global: every tenant gets them as tenant migrations).
        await db.schema
          .createTable("collections")
          .addColumn("id", t.id, (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("collection_id", "text", (c) => c.notNull().unique())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("name_key", "text", (c) => c.notNull())
          .addColumn("type", "text", (c) => c.notNull())
          .addColumn("definition", "text", (c) => c.notNull())
          .addColumn("created_at", t.bigint, (c) => c.notNull())
          .addColumn("updated_at", t.bigint, (c) => c.notNull())
          .addColumn("deleted_at", t.bigint)
          .execute();
        await db.schema
          .createIndex("collections_live_name")
          .on("collections")
          .column("name_key")
          .unique()
          .where(sql.ref("deleted_at"), "is", null)
          .execute();
        // Every schema change of a collection, in order: the source of the tenant migrations.
        await db.schema
          .createTable("collection_changes")
          .addColumn("seq", t.id, (c) =>
            dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn("collection_id", "text", (c) => c.notNull())
          .addColumn("migration_name", "text", (c) => c.notNull().unique())
          .addColumn("payload", "text", (c) => c.notNull())
          .addColumn("created_at", t.bigint, (c) => c.notNull())
          .execute();
      },
    },
    {
      name: "0004_settings",
      checksum: "0004_settings",
      async up(db) {
        // Server settings and generated secrets (admin token, JWT secret).
        await db.schema
          .createTable("settings")
          .addColumn("name", "text", (c) => c.primaryKey())
          .addColumn("value", "text", (c) => c.notNull())
          .addColumn("updated_at", t.bigint, (c) => c.notNull())
          .execute();
      },
    },
  ];
}

export const CATALOG_MIGRATIONS_TABLE = "_tenantbase_catalog_migrations";
export const PUBLIC_MIGRATIONS_TABLE = "_tenantbase_migrations";

export class Catalog {
  readonly db: Kysely<CatalogSchema>;
  readonly #pendingTouches = new Map<string, number>();

  constructor(db: Kysely<CatalogSchema>) {
    this.db = db;
  }

  /** Brings the catalog to the engine's schema, then runs the user's control-plane ("public") migrations. */
  async migrate(
    dialect: StorageDriver["dialect"],
    publicMigrations: readonly Migration[] = [],
  ): Promise<void> {
    // PostgreSQL: processes starting at once migrate the catalog one at a time
    // (a transaction-scoped advisory lock on the catalog's own schema).
    const options: MigrateOptions =
      dialect === "postgres"
        ? {
            lock: async (trx) => {
              await sql`select pg_advisory_xact_lock(${sql.lit(0x7442)}, hashtext(current_schema()))`.execute(
                trx,
              );
            },
          }
        : {};
    await migrateToLatest(
      this.db,
      resolveMigrations(catalogMigrations(dialect)),
      CATALOG_MIGRATIONS_TABLE,
      options,
    );
    if (publicMigrations.length > 0) {
      await migrateToLatest(
        this.db,
        resolveMigrations(publicMigrations),
        PUBLIC_MIGRATIONS_TABLE,
        options,
      );
    }
  }

  /** The live (not deleted) tenant with this key. */
  async get(
    key: string,
    db: Kysely<CatalogSchema> | Transaction<CatalogSchema> = this.db,
  ): Promise<TenantRow | undefined> {
    return db
      .selectFrom("tenants")
      .selectAll()
      .where("key", "=", key)
      .where("status", "<>", "deleted")
      .executeTakeFirst();
  }

  async insert(
    trx: Transaction<CatalogSchema>,
    values: {
      key: string;
      storageName: string;
      schemaVersion: number;
      metadata: string;
      now: number;
    },
  ): Promise<TenantRow> {
    return trx
      .insertInto("tenants")
      .values({
        key: values.key,
        storage_name: values.storageName,
        status: "active",
        schema_version: values.schemaVersion,
        created_at: values.now,
        updated_at: values.now,
        last_active_at: null,
        metadata: values.metadata,
        error: null,
        archive_path: null,
        pinned: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async list(options: ListTenantsOptions = {}): Promise<TenantPage> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvalidArgument("limit must be an integer from 1 to 1000.");
    }
    let query = this.db.selectFrom("tenants").selectAll();
    if (options.status !== undefined) {
      if (!TENANT_STATUSES.includes(options.status)) {
        throw new InvalidArgument(`status must be one of ${TENANT_STATUSES.join(", ")}.`);
      }
      query = query.where("status", "=", options.status);
    } else {
      query = query.where("status", "<>", "deleted");
    }
    if (options.cursor) {
      const [key, id] = decodeCursor(options.cursor);
      // A row-value comparison (SQLite 3.15+, PostgreSQL): an index range on tenants_key_id (or
      // tenants_status_key_id), where `key > $1 or (key = $1 and id > $2)` scans from the start.
      query = query.where((eb) => eb(eb.refTuple("key", "id"), ">", eb.tuple(key, id)));
    }
    const rows = await query
      .orderBy("key")
      .orderBy("id")
      .limit(limit + 1)
      .execute();
    const more = rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map(toTenantInfo);
    const last = more ? rows[limit - 1] : undefined;
    return { items, nextCursor: last ? encodeCursor(last.key, Number(last.id)) : null };
  }

  async count(status?: TenantStatus): Promise<number> {
    let query = this.db.selectFrom("tenants").select((eb) => eb.fn.countAll<number>().as("n"));
    query = status ? query.where("status", "=", status) : query.where("status", "<>", "deleted");
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async setStatus(
    key: string,
    status: Exclude<TenantStatus, "deleted">,
    error: string | null = null,
  ): Promise<void> {
    await this.db
      .updateTable("tenants")
      .set({ status, error, updated_at: Date.now() })
      .where("key", "=", key)
      .where("status", "<>", "deleted")
      .execute();
  }

  async setSchemaVersion(key: string, version: number): Promise<void> {
    await this.db
      .updateTable("tenants")
      .set({ schema_version: version, updated_at: Date.now() })
      .where("key", "=", key)
      .where("status", "<>", "deleted")
      .execute();
  }

  async setMetadata(key: string, metadata: string): Promise<void> {
    await this.db
      .updateTable("tenants")
      .set({ metadata, updated_at: Date.now() })
      .where("key", "=", key)
      .where("status", "<>", "deleted")
      .execute();
  }

  async markDeleted(id: number, archivePath: string | null): Promise<void> {
    await this.db
      .updateTable("tenants")
      .set({ status: "deleted", archive_path: archivePath, updated_at: Date.now() })
      .where("id", "=", id)
      .execute();
  }

  /** Records activity; written in batches by `flushTouches` rather than per request. */
  touch(key: string, at: number): void {
    this.#pendingTouches.set(key, at);
  }

  async flushTouches(): Promise<void> {
    if (this.#pendingTouches.size === 0) return;
    const touches = [...this.#pendingTouches];
    this.#pendingTouches.clear();
    await this.db.transaction().execute(async (trx) => {
      for (const [key, at] of touches) {
        await trx
          .updateTable("tenants")
          .set({ last_active_at: at })
          .where("key", "=", key)
          .where(sql.ref("status"), "<>", "deleted")
          .execute();
      }
    });
  }
}
