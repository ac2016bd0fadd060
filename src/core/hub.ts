/**
 * The hub: `createTenantbase(options)` wires the catalog, the pool, the event
 * bus and the migrations together over one storage driver.
 */
import { type DatabaseConnection, Kysely } from "kysely";
import {
  type ActionAuth,
  type ActionCallInput,
  type ActionDefinitions,
  type ActionInfo,
  type ActionResult,
  type EventSchemas,
  SUPERUSER_AUTH,
} from "../actions/index.js";
import { dialectOf, type StorageDriver, type TenantTemplate } from "../drivers/driver.js";
import { sqlite } from "../drivers/sqlite/index.js";
import {
  type Migration,
  migrationsDigest,
  type ResolvedMigration,
  resolveMigrations,
} from "../migrations/migration.js";
import {
  applyMigrations,
  ensureMigrationsTable,
  type MigrationTrack,
  migrateTracks,
  readApplied,
  TENANT_MIGRATIONS_TABLE,
} from "../migrations/migrator.js";
import { ActionRunner } from "./actions.js";
import {
  Catalog,
  type CatalogSchema,
  type ListTenantsOptions,
  type OutcomeKind,
  serializeMetadata,
  type TenantInfo,
  type TenantPage,
  type TenantStatus,
  toTenantInfo,
} from "./catalog.js";
import {
  HubClosed,
  TenantbaseError,
  TenantExists,
  TenantMigrationFailed,
  TenantNotFound,
  TenantSchemaTooNew,
  TenantStorageMissing,
  TenantSuspended,
} from "./errors.js";
import {
  EventBus,
  type EventListener,
  type PeerSignalListener,
  type TenantEvent,
} from "./events.js";
import { createHandle, type TenantHandle } from "./handle.js";
import {
  type OpenedTenant,
  type PoolEntry,
  type PoolOptions,
  type PoolStats,
  TenantPool,
} from "./pool.js";
import {
  type FleetStatus,
  type MigrationRun,
  type RollbackOptions,
  Rollout,
  type RunOptions,
  type TenantOutcome,
} from "./rollout.js";
import { storageName, validateTenantKey } from "./tenant-key.js";

export interface MigrationStreams {
  /** Run in every tenant's database, on wake and by fleet rollout. */
  tenant?: Migration[];
  /** Run once in the catalog (control plane), before anything else. */
  public?: Migration[];
}

/**
 * A list of tenant migrations kept in its own table, beside the code's own
 * (e.g. the migrations generated from collection definitions). The list may
 * grow while the hub runs; call `hub.reloadSchema()` after it does.
 */
export interface MigrationTrackSource {
  readonly table: string;
  migrations(): readonly ResolvedMigration[];
}

export interface TenantbaseOptions<A extends ActionDefinitions = ActionDefinitions> {
  /** Storage driver. Default: `sqlite({ dir: "./data" })`. */
  driver?: StorageDriver;
  pool?: PoolOptions;
  /** Tenant migrations (a list), or both streams. */
  migrations?: Migration[] | MigrationStreams;
  /**
   * A module that exports this same definition (`export default` or
   * `definition`), so fleet rollouts can run migrations written as functions
   * in worker threads. Without it they run in this thread. Migrations from
   * SQL files and collections run in workers either way.
   */
  workerModule?: string;
  /** Called with errors nobody awaits (event listeners, background bookkeeping). */
  onError?: (error: unknown, context: string) => void;
  /** The tenant definition's actions (see docs/actions.md and `defineTenant`). */
  actions?: A;
  /** The events actions may broadcast: name → zod schema of the payload. */
  events?: EventSchemas;
}

export interface TenantOptions {
  /** Create the tenant if it does not exist (default false: `TenantNotFound`). */
  createIfMissing?: boolean | { metadata?: Record<string, unknown> };
}

export interface CreateTenantOptions {
  metadata?: Record<string, unknown>;
}

export interface TenantsApi {
  create(key: string, options?: CreateTenantOptions): Promise<TenantInfo>;
  /** Throws `TenantNotFound` for an unknown (or deleted) key. */
  get(key: string): Promise<TenantInfo>;
  exists(key: string): Promise<boolean>;
  list(options?: ListTenantsOptions): Promise<TenantPage>;
  count(status?: TenantStatus): Promise<number>;
  update(key: string, changes: { metadata: Record<string, unknown> }): Promise<TenantInfo>;
  /** Archives the database (a final copy is kept) and frees the key. */
  delete(key: string): Promise<{ archivePath: string }>;
  suspend(key: string): Promise<void>;
  /** Makes a suspended or failed tenant active again; a failed one retries its migrations on next wake. */
  resume(key: string): Promise<void>;
  /** Bytes the tenant takes in storage. */
  size(key: string): Promise<number>;
  /** Writes a consistent copy of the tenant's database to `destination`. */
  backup(key: string, destination: string): Promise<{ path: string; bytes: number }>;
  /** Replaces the tenant's database with a backup, then migrates it on next wake. */
  restore(key: string, source: string): Promise<void>;
}

export interface MigrationsApi {
  /** The code's tenant migrations, checked and in order. */
  readonly list: readonly ResolvedMigration[];
  /** Rolls the pending migrations out to many tenants (see RunOptions); resolves when the run ends. */
  run(options?: RunOptions): Promise<MigrationRun>;
  /** Runs `down` on exactly the tenants a run migrated, and holds them there until the next run. */
  rollback(runId: number, options?: RollbackOptions): Promise<MigrationRun>;
  /** Tenants per version, failed tenants, latest runs. */
  status(): Promise<FleetStatus>;
  runs(options?: { limit?: number }): Promise<MigrationRun[]>;
  getRun(runId: number): Promise<MigrationRun>;
  /** Per-tenant outcomes of a run, in the run's order. */
  outcomes(
    runId: number,
    options?: { outcome?: OutcomeKind; limit?: number; afterPosition?: number },
  ): Promise<TenantOutcome[]>;
  /** Makes a failed tenant active again and wakes it, which retries its migrations. */
  retry(key: string): Promise<void>;
}

export interface Tenantbase<A extends ActionDefinitions = ActionDefinitions> {
  readonly driver: StorageDriver;
  readonly catalog: Catalog;
  readonly tenants: TenantsApi;
  readonly migrations: MigrationsApi;
  /** Every track of tenant migrations (the code's first), as they are now. */
  migrationTracks(): MigrationTrack[];
  /** The schema version a tenant reaches when fully migrated (migrations over all tracks). */
  targetVersion(): number;
  /** Adds a track of tenant migrations (see MigrationTrackSource). */
  addMigrationTrack(source: MigrationTrackSource): Promise<void>;
  /**
   * After a track grew: new tenants get the new schema, and every open tenant
   * closes once its in-flight operations finish, so its next use migrates it.
   */
  reloadSchema(): Promise<void>;
  /** Resolves when the catalog is ready; every call waits for it anyway. */
  ready(): Promise<void>;
  /** Wakes the tenant (opening and migrating it if needed) and returns its handle. */
  tenant<DB = any>(key: string, options?: TenantOptions): Promise<TenantHandle<DB, A>>;
  /**
   * Runs an action on a tenant as `auth` (default: a superuser): checked, then
   * alone on the tenant in one transaction; its events go out after commit.
   */
  runAction<N extends keyof A & string>(
    key: string,
    name: N,
    input?: ActionCallInput<A[N]>,
    auth?: ActionAuth | null,
  ): Promise<ActionResult<A[N]>>;
  /** The definition's actions: names, roles, whether public. */
  listActions(): ActionInfo[];
  /**
   * Receives the tenant's events, after the transactions that raised them
   * commit: this process's, and other processes' when the driver has an
   * event transport (PostgreSQL).
   */
  subscribe(key: string, listener: EventListener): () => void;
  /**
   * Deployment-wide notices between the processes sharing the storage (e.g.
   * the collections layer's "definitions changed"): `send` reaches every
   * other process's `subscribe`, never this one's, in the transport's order;
   * with `connection` (a transaction about to commit) inside that
   * transaction. `shared` is false (and `send` does nothing) without an event
   * transport: one process (SQLite), or `events: false`.
   */
  readonly peers: {
    readonly shared: boolean;
    send(name: string, payload?: unknown, connection?: DatabaseConnection): Promise<void>;
    subscribe(listener: PeerSignalListener): () => void;
  };
  /**
   * Runs `fn` while the tenant is closed and held: in-flight operations have
   * finished and new ones wait. For operations on its storage as a whole.
   */
  exclusive<T>(
    key: string,
    fn: (tenant: { key: string; storageName: string }) => Promise<T>,
  ): Promise<T>;
  stats(): PoolStats;
  close(): Promise<void>;
}

const TOUCH_FLUSH_MS = 1000;

class Hub implements Tenantbase {
  readonly driver: StorageDriver;
  readonly catalog: Catalog;
  readonly migrations: MigrationsApi;
  readonly tenants: TenantsApi;
  readonly peers: Tenantbase["peers"];
  readonly #pool: TenantPool;
  readonly #bus: EventBus;
  readonly #trackSources: MigrationTrackSource[];
  #template: { key: string; template: TenantTemplate } | undefined;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #ready: Promise<void>;
  #isReady = false;
  #closed = false;
  readonly #flusher: NodeJS.Timeout;
  readonly #actions: ActionRunner;

  constructor(options: TenantbaseOptions) {
    this.#actions = new ActionRunner(options.actions, options.events);
    this.driver = options.driver ?? sqlite();
    this.#onError = options.onError ?? (() => {});
    const streams: MigrationStreams = Array.isArray(options.migrations)
      ? { tenant: options.migrations }
      : (options.migrations ?? {});
    const code = resolveMigrations(streams.tenant ?? []);
    this.#trackSources = [{ table: TENANT_MIGRATIONS_TABLE, migrations: () => code }];
    this.catalog = new Catalog(
      new Kysely<CatalogSchema>({ dialect: this.driver.catalogDialect() }),
    );
    this.#bus = new EventBus((error) => this.#onError(error, "event listener"));
    this.#pool = new TenantPool(options.pool ?? {}, {
      wake: (key) => this.#wake(key),
      sleep: (entry) => this.#sleep(entry),
    });
    // Several processes on one storage: events cross through the driver's transport.
    const transport = this.driver.eventTransport?.({ onError: this.#onError });
    const listening = transport ? this.#bus.connect(transport, this.#onError) : undefined;
    const bus = this.#bus;
    this.peers = {
      get shared() {
        return bus.shared;
      },
      send: (name, payload, connection) => bus.signalPeers(name, payload, connection),
      subscribe: (listener) => bus.onPeerSignal(listener),
    };
    this.#ready = Promise.all([
      this.catalog.migrate(this.driver.dialect, streams.public ?? []),
      listening,
    ]).then(() => {
      this.#isReady = true;
    });
    // Keep an unawaited failure from crashing the process; callers see it via ready().
    this.#ready.catch(() => {});
    this.#flusher = setInterval(() => {
      this.catalog.flushTouches().catch((error) => this.#onError(error, "catalog activity flush"));
    }, TOUCH_FLUSH_MS);
    this.#flusher.unref();
    this.tenants = this.#tenantsApi();
    this.migrations = this.#migrationsApi(
      code,
      new Rollout({
        catalog: this.catalog,
        driver: this.driver,
        pool: this.#pool,
        tracks: () => this.migrationTracks(),
        ...(options.workerModule ? { workerModule: options.workerModule } : {}),
      }),
    );
  }

  async ready(): Promise<void> {
    await this.#ready;
  }

  /** The tracks as far as a tenant may go: all of them, or up to where a rollback holds it. */
  #tracksFor(pinned: string | null): MigrationTrack[] {
    const tracks = this.migrationTracks();
    if (!pinned) return tracks;
    const limits = JSON.parse(pinned) as Record<string, number>;
    return tracks.map((track) => {
      const limit = limits[track.table];
      return limit === undefined
        ? track
        : { table: track.table, migrations: track.migrations.slice(0, limit) };
    });
  }

  migrationTracks(): MigrationTrack[] {
    return this.#trackSources.map((source) => ({
      table: source.table,
      migrations: source.migrations(),
    }));
  }

  targetVersion(): number {
    let total = 0;
    for (const source of this.#trackSources) total += source.migrations().length;
    return total;
  }

  async addMigrationTrack(source: MigrationTrackSource): Promise<void> {
    if (this.#trackSources.some((existing) => existing.table === source.table)) {
      throw new TypeError(`a migration track with table ${source.table} exists already`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(source.table)) {
      throw new TypeError("a migration track's table must be a plain SQL identifier");
    }
    this.#trackSources.push(source);
    await this.reloadSchema();
  }

  async reloadSchema(): Promise<void> {
    this.#template = undefined;
    await this.#pool.closeAll();
  }

  /** The provisioning template for the tracks as they are now (rebuilt when they change). */
  #currentTemplate(): TenantTemplate {
    const tracks = this.migrationTracks();
    const key = tracks
      .map((track) => `${track.table}=${migrationsDigest(track.migrations)}`)
      .join(",");
    if (this.#template?.key !== key) {
      this.#template = {
        key,
        template: {
          id: `${this.driver.dialect}:${key}`,
          async init(db) {
            for (const track of tracks) await ensureMigrationsTable(db, track.table);
            await db.transaction().execute(async (trx) => {
              for (const track of tracks)
                await applyMigrations(trx, track.migrations, 0, track.table);
            });
          },
        },
      };
    }
    return this.#template.template;
  }

  async #whenReady(): Promise<void> {
    if (this.#closed) throw new HubClosed();
    if (!this.#isReady) await this.#ready;
  }

  async #wake(key: string): Promise<OpenedTenant> {
    const row = await this.catalog.get(key);
    if (!row) throw new TenantNotFound(key);
    if (row.status === "suspended") throw new TenantSuspended(key);
    if (row.status === "failed") throw new TenantMigrationFailed(key, row.error ?? "unknown error");
    let driver: Awaited<ReturnType<StorageDriver["open"]>>;
    try {
      driver = await this.driver.open(row.storage_name);
    } catch (error) {
      if (!(await this.driver.exists(row.storage_name))) throw new TenantStorageMissing(key);
      throw error;
    }
    try {
      const db = new Kysely<any>({ dialect: dialectOf(this.driver, driver) });
      let version: number;
      try {
        version = (await migrateTracks(db, this.#tracksFor(row.pinned))).to;
      } catch (error) {
        // Drift and a too-new database are this code's problem, not the tenant's:
        // refuse without marking it failed (a newer deployment may serve it fine).
        if (error instanceof TenantbaseError && error.code === "TENANT_SCHEMA_TOO_NEW") {
          throw new TenantSchemaTooNew(key, String(error.details.applied));
        }
        if (error instanceof TenantbaseError && error.code === "MIGRATION_DRIFT") throw error;
        const reason = (error as Error).message;
        await this.catalog.setStatus(key, "failed", reason);
        throw new TenantMigrationFailed(key, reason, { cause: error });
      }
      if (version !== Number(row.schema_version)) await this.catalog.setSchemaVersion(key, version);
    } catch (error) {
      await driver.destroy().catch(() => {});
      throw error;
    }
    this.catalog.touch(key, Date.now());
    return { storage: row.storage_name, driver };
  }

  /** How many migrations (over all tracks) a tenant's database has applied. */
  async #appliedVersion(storage: string): Promise<number> {
    const driver = await this.driver.open(storage);
    try {
      const db = new Kysely<any>({ dialect: dialectOf(this.driver, driver) });
      let total = 0;
      for (const track of this.migrationTracks())
        total += (await readApplied(db, track.table)).length;
      return total;
    } finally {
      await driver.destroy();
    }
  }

  async #sleep(entry: PoolEntry): Promise<void> {
    this.catalog.touch(entry.key, entry.lastUsed);
    await entry.opened.driver.destroy();
  }

  #handleOf(entry: PoolEntry): TenantHandle {
    entry.handle ??= createHandle(this, entry.key, this.#pool, this.driver, this.#bus, (handle) =>
      this.#actions.callers(handle),
    );
    return entry.handle as TenantHandle;
  }

  async tenant<DB = any>(key: string, options: TenantOptions = {}): Promise<TenantHandle<DB>> {
    // Fast path: an open tenant is active by construction (status changes close it).
    const open = this.#pool.peek(key);
    if (open !== undefined && !this.#closed) return this.#handleOf(open) as TenantHandle<DB>;
    await this.#whenReady();
    validateTenantKey(key);
    for (;;) {
      try {
        const entry = await this.#pool.lease(key);
        this.#pool.release(entry);
        return this.#handleOf(entry) as TenantHandle<DB>;
      } catch (error) {
        if (!(error instanceof TenantNotFound) || !options.createIfMissing) throw error;
        const metadata =
          typeof options.createIfMissing === "object"
            ? options.createIfMissing.metadata
            : undefined;
        try {
          await this.tenants.create(key, metadata ? { metadata } : {});
        } catch (createError) {
          // Created concurrently by someone else: fine, wake it.
          if (!(createError instanceof TenantExists)) throw createError;
        }
      }
    }
  }

  async runAction(
    key: string,
    name: string,
    input?: unknown,
    auth: ActionAuth | null = SUPERUSER_AUTH,
  ): Promise<any> {
    this.#actions.authorize(name, auth);
    return this.#actions.run(await this.tenant(key), name, input, auth);
  }

  listActions(): ActionInfo[] {
    return this.#actions.list();
  }

  subscribe(key: string, listener: EventListener): () => void {
    validateTenantKey(key);
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    return this.#bus.subscribe(key, listener);
  }

  async exclusive<T>(
    key: string,
    fn: (tenant: { key: string; storageName: string }) => Promise<T>,
  ): Promise<T> {
    await this.#whenReady();
    validateTenantKey(key);
    return this.#pool.exclusive(key, () => fn({ key, storageName: storageName(key) }));
  }

  stats(): PoolStats {
    return this.#pool.stats();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#flusher);
    await this.#ready.catch(() => {});
    await this.#pool.close();
    await this.catalog
      .flushTouches()
      .catch((error) => this.#onError(error, "catalog activity flush"));
    await this.catalog.db.destroy();
    await this.driver.close();
  }

  async #requireRow(key: string) {
    await this.#whenReady();
    validateTenantKey(key);
    const row = await this.catalog.get(key);
    if (!row) throw new TenantNotFound(key);
    return row;
  }

  #migrationsApi(list: readonly ResolvedMigration[], rollout: Rollout): MigrationsApi {
    return {
      list,
      run: async (options) => {
        await this.#whenReady();
        return rollout.run(options);
      },
      rollback: async (runId, options) => {
        await this.#whenReady();
        return rollout.rollback(runId, options);
      },
      status: async () => {
        await this.#whenReady();
        return rollout.status();
      },
      runs: async (options) => {
        await this.#whenReady();
        return rollout.runs(options);
      },
      getRun: async (runId) => {
        await this.#whenReady();
        return rollout.getRun(runId);
      },
      outcomes: async (runId, options) => {
        await this.#whenReady();
        return rollout.outcomes(runId, options);
      },
      retry: async (key) => {
        const row = await this.#requireRow(key);
        if (row.status === "failed") {
          await this.#pool.exclusive(key, () => this.catalog.setStatus(key, "active"));
        }
        await this.tenant(key);
      },
    };
  }

  #tenantsApi(): TenantsApi {
    return {
      create: async (key, options = {}) => {
        await this.#whenReady();
        validateTenantKey(key);
        const storage = storageName(key);
        const metadata = serializeMetadata(options.metadata);
        const row = await this.catalog.db.transaction().execute(async (trx) => {
          if (await this.catalog.get(key, trx)) throw new TenantExists(key);
          const inserted = await this.catalog.insert(trx, {
            key,
            storageName: storage,
            schemaVersion: this.targetVersion(),
            metadata,
            now: Date.now(),
          });
          // Inside the catalog transaction: if provisioning fails, the tenant does not exist.
          await this.driver.provision(storage, this.#currentTemplate());
          return inserted;
        });
        return toTenantInfo(row);
      },
      get: async (key) => toTenantInfo(await this.#requireRow(key)),
      exists: async (key) => {
        await this.#whenReady();
        validateTenantKey(key);
        return (await this.catalog.get(key)) !== undefined;
      },
      list: async (options) => {
        await this.#whenReady();
        return this.catalog.list(options);
      },
      count: async (status) => {
        await this.#whenReady();
        return this.catalog.count(status);
      },
      update: async (key, changes) => {
        await this.#requireRow(key);
        await this.catalog.setMetadata(key, serializeMetadata(changes.metadata));
        return toTenantInfo(await this.#requireRow(key));
      },
      delete: async (key) => {
        await this.#requireRow(key);
        return this.#pool.exclusive(key, async () => {
          const row = await this.#requireRow(key);
          const stamp = new Date().toISOString().replace(/[-:.]/g, "");
          const archiveName = `${row.storage_name}.${stamp}.${row.id}`;
          // The catalog first: from here on nobody can wake it. A crash before the
          // move leaves an orphan file that the next provisioning of the key archives.
          await this.catalog.markDeleted(Number(row.id), null);
          const archivePath = await this.driver.deprovision(row.storage_name, archiveName);
          await this.catalog.markDeleted(Number(row.id), archivePath);
          return { archivePath };
        });
      },
      suspend: async (key) => {
        await this.#requireRow(key);
        await this.#pool.exclusive(key, async () => {
          await this.#requireRow(key);
          await this.catalog.setStatus(key, "suspended");
        });
      },
      resume: async (key) => {
        const row = await this.#requireRow(key);
        if (row.status === "active") return;
        await this.#pool.exclusive(key, () => this.catalog.setStatus(key, "active"));
      },
      size: async (key) => {
        const row = await this.#requireRow(key);
        return this.driver.size(row.storage_name);
      },
      backup: async (key, destination) => {
        const row = await this.#requireRow(key);
        return this.driver.backup(row.storage_name, destination);
      },
      restore: async (key, source) => {
        await this.#requireRow(key);
        await this.#pool.exclusive(key, async () => {
          const row = await this.#requireRow(key);
          try {
            await this.driver.restore(row.storage_name, source);
          } catch (error) {
            throw new TenantbaseError(
              "RESTORE_INVALID",
              `Cannot restore tenant ${JSON.stringify(key)}: ${(error as Error).message}`,
              { key },
              { cause: error },
            );
          }
          // The catalog learns the copy's version; an older copy migrates on its next wake.
          await this.catalog.setSchemaVersion(key, await this.#appliedVersion(row.storage_name));
          // A failed tenant gets its retry.
          if (row.status === "failed") await this.catalog.setStatus(key, "active");
        });
      },
    };
  }
}

export function createTenantbase<A extends ActionDefinitions = ActionDefinitions>(
  options: TenantbaseOptions<A> = {},
): Tenantbase<A> {
  return new Hub(options) as unknown as Tenantbase<A>;
}

export type { TenantEvent };
