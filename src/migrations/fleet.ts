/**
 * The per-tenant half of a fleet rollout: one task migrates (or trials, or
 * rolls back, or inspects) one tenant database in one transaction. Tasks run
 * in worker threads, so a rollout uses every core, or in this thread when a
 * migration cannot be sent to a worker (a function defined in code the
 * worker cannot import). Bookkeeping (which tenants, outcomes, locks against
 * the server's own traffic) is the caller's job: see src/core/rollout.ts.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { Kysely, type Transaction } from "kysely";
import { dialectOf, type StorageDriver, type WorkerDriverConfig } from "../drivers/driver.js";
import { TenantbaseError } from "../tools/error.js";
import { type MigrationRecipe, type ResolvedMigration, resolveMigrations } from "./migration.js";
import {
  applyMigrations,
  ensureMigrationsTable,
  type MigrationTrack,
  planError,
  planMigrations,
  readApplied,
  revertMigrations,
} from "./migrator.js";
import { fleetWorkerBundle } from "./worker-bundle.js";

export type FleetTaskKind = "migrate" | "trial" | "rollback" | "inspect";

export interface FleetTask {
  kind: FleetTaskKind;
  storage: string;
  /** The run doing this; migrations it applies are stamped with it. */
  runId: number;
  /** Per track table: apply at most this many migrations (a rollback's hold). */
  limits?: Record<string, number>;
  /** For "rollback" and "inspect": the run whose migrations to undo or look for. */
  targetRunId?: number;
}

export type FleetOutcome =
  | "migrated"
  | "current"
  | "failed"
  | "would-migrate"
  | "would-fail"
  | "rolled-back"
  | "not-applied"
  | "applied-by-run";

export interface FleetResult {
  outcome: FleetOutcome;
  /** Total applied migrations over all tracks, before and after. */
  from: number | null;
  to: number | null;
  /** Applied migrations per track table, after. */
  versions?: Record<string, number>;
  error?: string;
}

interface Counts {
  from: number;
  to: number;
  versions: Record<string, number>;
}

export interface FleetExecutor {
  /** How many tasks it runs at once. */
  readonly concurrency: number;
  /** Whether tasks run on other threads. */
  readonly parallel: boolean;
  /** Whether those threads run one bundled module (see worker-bundle.ts). */
  readonly bundled?: boolean;
  run(task: FleetTask): Promise<FleetResult>;
  close(): Promise<void>;
}

class RollbackTrial extends Error {}

/** Limits a track to what a task may apply. */
function limited(
  track: MigrationTrack,
  limits: Record<string, number> | undefined,
): MigrationTrack {
  const limit = limits?.[track.table];
  return limit === undefined
    ? track
    : { table: track.table, migrations: track.migrations.slice(0, limit) };
}

async function migrateIn(
  trx: Transaction<any>,
  tracks: readonly MigrationTrack[],
  task: FleetTask,
): Promise<Counts> {
  let from = 0;
  let to = 0;
  const versions: Record<string, number> = {};
  for (const full of tracks) {
    const track = limited(full, task.limits);
    await ensureMigrationsTable(trx, track.table);
    const plan = planMigrations(await readApplied(trx, track.table), track.migrations);
    if (plan.kind === "pending") {
      await applyMigrations(trx, plan.pending, plan.from, track.table, task.runId);
      from += plan.from;
      to += plan.to;
      versions[track.table] = plan.to;
    } else if (plan.kind === "current") {
      from += plan.version;
      to += plan.version;
      versions[track.table] = plan.version;
    } else {
      throw planError(plan);
    }
  }
  return { from, to, versions };
}

async function rollbackIn(
  trx: Transaction<any>,
  tracks: readonly MigrationTrack[],
  runId: number,
): Promise<Counts> {
  let from = 0;
  let to = 0;
  const versions: Record<string, number> = {};
  for (const track of tracks) {
    await ensureMigrationsTable(trx, track.table);
    const applied = await readApplied(trx, track.table);
    const plan = planMigrations(applied, track.migrations);
    if (plan.kind === "drift" || plan.kind === "too-new") throw planError(plan);
    const firstOfRun = applied.findIndex((row) => row.run_id === runId);
    from += applied.length;
    if (firstOfRun < 0) {
      to += applied.length;
      versions[track.table] = applied.length;
      continue;
    }
    const later = applied.slice(firstOfRun).find((row) => row.run_id !== runId);
    if (later) {
      throw new TenantbaseError(
        "MIGRATION_INVALID",
        `Migration ${later.name} was applied after run ${runId}; roll that back first.`,
      );
    }
    await revertMigrations(trx, track.migrations, applied.length, firstOfRun, track.table);
    to += firstOfRun;
    versions[track.table] = firstOfRun;
  }
  return { from, to, versions };
}

async function inspect(
  db: Kysely<any>,
  tracks: readonly MigrationTrack[],
  runId: number,
): Promise<FleetResult> {
  let total = 0;
  let byRun = false;
  for (const track of tracks) {
    const applied = await readApplied(db, track.table);
    total += applied.length;
    byRun ||= applied.some((row) => row.run_id === runId);
  }
  return { outcome: byRun ? "applied-by-run" : "not-applied", from: total, to: total };
}

async function runTask(
  db: Kysely<any>,
  tracks: readonly MigrationTrack[],
  task: FleetTask,
): Promise<FleetResult> {
  switch (task.kind) {
    case "inspect":
      return inspect(db, tracks, task.targetRunId ?? task.runId);
    case "migrate": {
      const counts = await db.transaction().execute((trx) => migrateIn(trx, tracks, task));
      return { outcome: counts.from === counts.to ? "current" : "migrated", ...counts };
    }
    case "trial": {
      let counts: Counts = { from: 0, to: 0, versions: {} };
      try {
        await db.transaction().execute(async (trx) => {
          counts = await migrateIn(trx, tracks, task);
          throw new RollbackTrial();
        });
      } catch (error) {
        if (!(error instanceof RollbackTrial)) throw error;
      }
      return { outcome: counts.from === counts.to ? "current" : "would-migrate", ...counts };
    }
    case "rollback": {
      const target = task.targetRunId ?? task.runId;
      const counts = await db.transaction().execute((trx) => rollbackIn(trx, tracks, target));
      return { outcome: counts.from === counts.to ? "not-applied" : "rolled-back", ...counts };
    }
    default:
      throw new TypeError(`unknown task kind ${String((task as FleetTask).kind)}`);
  }
}

/** Runs one task on one tenant database. Never throws: failures are results. */
export async function executeTask(
  driver: StorageDriver,
  tracks: readonly MigrationTrack[],
  task: FleetTask,
): Promise<FleetResult> {
  let opened: Driver | undefined;
  try {
    // The rollout holds the tenant exclusively in its pool while the task runs,
    // and reports the result only after destroy(): the driver may flush there.
    opened = await driver.open(task.storage, { exclusive: true, durableOnDestroy: true });
    const result = await runTask(
      new Kysely<any>({ dialect: dialectOf(driver, opened) }),
      tracks,
      task,
    );
    const closing = opened;
    opened = undefined;
    await closing.destroy();
    return result;
  } catch (error) {
    return {
      outcome: task.kind === "trial" ? "would-fail" : "failed",
      from: null,
      to: null,
      error: (error as Error)?.message ?? String(error),
    };
  } finally {
    await opened?.destroy().catch(() => {});
  }
}

type Driver = Awaited<ReturnType<StorageDriver["open"]>>;

/** Imports a module by URL (in a worker: maybe one a bundle already holds). */
export type ModuleLoader = (url: string) => Promise<unknown>;

/** A track as it crosses to a worker: SQL where the migration is SQL, a name otherwise. */
export interface SerializedTrack {
  table: string;
  migrations: Array<{ name: string; checksum: string; recipe?: MigrationRecipe }>;
}

export function serializeTracks(tracks: readonly MigrationTrack[]): SerializedTrack[] {
  return tracks.map((track) => ({
    table: track.table,
    migrations: track.migrations.map((m) => ({
      name: m.name,
      checksum: m.checksum,
      ...(m.recipe ? { recipe: m.recipe } : {}),
    })),
  }));
}

/**
 * Rebuilds tracks in a worker: from each migration's recipe, or, for the
 * code's own migrations defined as functions, by name from `codeMigrations`
 * (loaded from the worker module). Checksums must match what the main thread
 * rolls out.
 */
export async function deserializeTracks(
  tracks: readonly SerializedTrack[],
  codeMigrations: readonly ResolvedMigration[],
  load: ModuleLoader = (url) => import(url),
): Promise<MigrationTrack[]> {
  const byName = new Map(codeMigrations.map((m) => [m.name, m]));
  const modules = new Map<string, Record<string, unknown>>();
  const rebuilt: MigrationTrack[] = [];
  for (const track of tracks) {
    const migrations: ResolvedMigration[] = [];
    for (const m of track.migrations) {
      let migration: ResolvedMigration | undefined;
      if (m.recipe) {
        let mod = modules.get(m.recipe.module);
        if (!mod) {
          mod = (await load(m.recipe.module)) as Record<string, unknown>;
          modules.set(m.recipe.module, mod);
        }
        const build = mod[m.recipe.export] as
          | ((...args: unknown[]) => ResolvedMigration)
          | undefined;
        migration = build?.(...m.recipe.args);
      } else {
        migration = byName.get(m.name);
      }
      if (!migration || migration.name !== m.name || migration.checksum !== m.checksum) {
        throw new TenantbaseError(
          "MIGRATION_INVALID",
          `Migration ${m.name} could not be rebuilt identically in a worker thread.`,
        );
      }
      migrations.push(migration);
    }
    rebuilt.push({ table: track.table, migrations });
  }
  return rebuilt;
}

/** Whether every migration of the tracks can run in a worker thread. */
export function workerCanRun(
  tracks: readonly MigrationTrack[],
  codeTable: string,
  hasWorkerModule: boolean,
): boolean {
  return tracks.every((track) =>
    track.migrations.every(
      (m) => m.recipe !== undefined || (hasWorkerModule && track.table === codeTable),
    ),
  );
}

export function createInProcessExecutor(
  driver: StorageDriver,
  tracks: readonly MigrationTrack[],
  concurrency: number,
): FleetExecutor {
  return {
    concurrency,
    parallel: false,
    run: (task) => executeTask(driver, tracks, task),
    close: async () => {},
  };
}

export interface WorkerExecutorOptions {
  driver: WorkerDriverConfig;
  tracks: SerializedTrack[];
  /** A module exporting the tenant definition, for migrations defined as functions. */
  workerModule?: string;
  /** Tasks in flight at once, over every thread. Default: TASKS_PER_THREAD per thread. */
  concurrency?: number;
  /** Worker threads. Default: two per core, at most `concurrency`. */
  threads?: number;
}

/**
 * Tasks one worker thread keeps in flight: while some wait for their flush
 * (see `durableOnDestroy`), the thread runs the others' SQL.
 */
export const TASKS_PER_THREAD = 16;

interface Pending {
  resolve(result: FleetResult): void;
}

/** The module every worker runs (TypeScript sources run through tsx). */
function workerEntry(): URL {
  const self = new URL(import.meta.url);
  return new URL(self.pathname.endsWith(".ts") ? "./fleet-worker.ts" : "./fleet-worker.js", self);
}

/** This process's flags without tsx's loader: a bundled worker loads no TypeScript. */
function withoutTsx(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    const [name, inline] = flag.split(/=(.*)/s);
    const takesValue = [
      "--require",
      "-r",
      "--import",
      "--loader",
      "--experimental-loader",
    ].includes(name!);
    const value = inline ?? (takesValue ? execArgv[i + 1] : undefined);
    if (takesValue && value?.includes("tsx")) {
      if (inline === undefined) i++;
      continue;
    }
    kept.push(flag);
  }
  return kept;
}

function spawn(entry: URL, workerData: object): Worker {
  if (entry.protocol === "data:") {
    return new Worker(entry, {
      execArgv: withoutTsx(process.execArgv),
      workerData: { ...workerData, bundled: true },
    });
  }
  if (!entry.pathname.endsWith(".ts")) return new Worker(entry, { workerData });
  // Workers do not inherit a loader registered at run time: register tsx inside.
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot = `const { workerData } = require("node:worker_threads");
import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(workerData.entry); });`;
  return new Worker(boot, {
    eval: true,
    workerData: { ...workerData, entry: entry.href },
  });
}

interface WorkerSlot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Tasks not yet posted: posted together at the end of this microtask turn. */
  outbox: TaskMessage[];
}

/** What crosses to a worker and back, a batch per message: one wake-up per batch. */
export interface TaskMessage {
  id: number;
  task: FleetTask;
}

export interface ResultMessage {
  id: number;
  result: FleetResult;
}

/**
 * Runs tasks in worker threads, once every thread has started. (Running
 * tasks in this thread meanwhile was measured slower: their fsyncs fill
 * libuv's thread pool, which the starting threads need to read their modules.)
 */
export async function createWorkerExecutor(options: WorkerExecutorOptions): Promise<FleetExecutor> {
  const bundle = await fleetWorkerBundle(
    [
      options.driver.module,
      ...options.tracks.flatMap((track) =>
        track.migrations.flatMap((m) => (m.recipe ? [m.recipe.module] : [])),
      ),
    ],
    options.workerModule,
  );
  if (bundle) {
    try {
      return await startWorkers(options, bundle);
    } catch {
      // A module that does not run bundled: start the workers as usual.
    }
  }
  return startWorkers(options, workerEntry());
}

async function startWorkers(options: WorkerExecutorOptions, entry: URL): Promise<FleetExecutor> {
  // Two per core: part of a task is spent in the kernel (creating and
  // deleting its WAL), and another thread's task runs meanwhile.
  const threads = Math.max(
    1,
    options.threads ?? Math.min(availableParallelism() * 2, options.concurrency ?? Infinity),
  );
  const concurrency = Math.max(threads, options.concurrency ?? threads * TASKS_PER_THREAD);
  const slots: WorkerSlot[] = [];
  let nextId = 0;
  let turn = 0;
  let failure: Error | undefined;

  const starting = Array.from({ length: threads }, () => {
    const worker = spawn(entry, {
      driver: options.driver,
      tracks: options.tracks,
      workerModule: options.workerModule,
    });
    const slot: WorkerSlot = { worker, pending: new Map(), outbox: [] };
    slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on(
        "message",
        (message: { ready?: true; error?: string; results?: ResultMessage[] }) => {
          if (message.ready) return resolve();
          if (message.error !== undefined) return reject(new Error(message.error));
          for (const { id, result } of message.results ?? []) {
            const pending = slot.pending.get(id);
            slot.pending.delete(id);
            pending?.resolve(result);
          }
        },
      );
      worker.on("error", (error) => {
        failure ??= error;
        reject(error);
        for (const pending of slot.pending.values()) {
          pending.resolve({
            outcome: "failed",
            from: null,
            to: null,
            error: `worker failed: ${error.message}`,
          });
        }
        slot.pending.clear();
      });
    });
  });
  try {
    await Promise.all(starting);
  } catch (error) {
    await Promise.all(slots.map((s) => s.worker.terminate()));
    throw new TenantbaseError(
      "MIGRATION_INVALID",
      `Fleet workers could not start: ${(error as Error).message}`,
    );
  }

  return {
    concurrency,
    parallel: true,
    bundled: entry.protocol === "data:",
    run(task) {
      if (failure) {
        return Promise.resolve({
          outcome: "failed",
          from: null,
          to: null,
          error: `worker failed: ${failure.message}`,
        });
      }
      // The least busy worker, round robin among equals.
      let best = slots[turn++ % slots.length]!;
      for (const slot of slots) if (slot.pending.size < best.pending.size) best = slot;
      const id = nextId++;
      const slot = best;
      return new Promise<FleetResult>((resolve) => {
        slot.pending.set(id, { resolve });
        if (slot.outbox.push({ id, task }) === 1) {
          queueMicrotask(() => {
            const tasks = slot.outbox;
            slot.outbox = [];
            slot.worker.postMessage({ tasks });
          });
        }
      });
    },
    async close() {
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/** Loads the tenant definition's code migrations from a module (in a worker). */
export async function loadCodeMigrations(module: string): Promise<ResolvedMigration[]> {
  let mod: Record<string, unknown>;
  if (module.endsWith(".ts")) {
    const { tsImport } = await import("tsx/esm/api");
    mod = (await tsImport(module, import.meta.url)) as Record<string, unknown>;
  } else {
    mod = (await import(module)) as Record<string, unknown>;
  }
  return codeMigrationsOf(mod);
}

/** The migrations a tenant definition's module exports. */
export function codeMigrationsOf(mod: Record<string, unknown>): ResolvedMigration[] {
  let definition = (mod.default ?? mod.definition ?? mod) as {
    migrations?: unknown;
    default?: unknown;
  };
  // A .ts file outside an ESM package loads as CommonJS: its default export is one level down.
  if (definition.migrations === undefined && definition.default) {
    definition = definition.default as { migrations?: unknown };
  }
  const migrations = definition.migrations;
  const list = Array.isArray(migrations)
    ? migrations
    : (migrations as { tenant?: unknown } | undefined)?.tenant;
  return resolveMigrations((list as never[]) ?? []);
}
