/**
 * Fleet rollout: migrate (or trial, or roll back) many tenants, in parallel,
 * with every tenant's outcome stored in the catalog.
 *
 * - Each tenant migrates in one transaction of its own database (see
 *   src/migrations/fleet.ts), so a crash leaves it fully migrated or untouched.
 * - While a tenant migrates it is held exclusively in this process's pool:
 *   its in-flight work finishes first, its new work waits.
 * - A run records every selected tenant as "pending" before it starts and
 *   stamps what it applies with its id in the tenant's own migration table, so
 *   a run interrupted by a crash is reconciled exactly afterwards, and a
 *   rollback undoes exactly what a run applied.
 */
import { hostname } from "node:os";
import { Kysely } from "kysely";
import { dialectOf, type StorageDriver } from "../drivers/driver.js";
import {
  createInProcessExecutor,
  createWorkerExecutor,
  type FleetExecutor,
  type FleetResult,
  type FleetTask,
  serializeTracks,
  workerCanRun,
} from "../migrations/fleet.js";
import {
  type MigrationTrack,
  readApplied,
  TENANT_MIGRATIONS_TABLE,
} from "../migrations/migrator.js";
import type {
  Catalog,
  CatalogSchema,
  MigrationRunsTable,
  OutcomeKind,
  RunKind,
  RunStatus,
  TenantInfo,
  TenantRow,
  TenantStatus,
} from "./catalog.js";
import { toTenantInfo } from "./catalog.js";
import { InvalidArgument } from "./errors.js";
import type { TenantPool } from "./pool.js";

export interface RunCounts {
  total: number;
  pending: number;
  migrated: number;
  skipped: number;
  failed: number;
  notReached: number;
  wouldMigrate: number;
  wouldFail: number;
  rolledBack: number;
  notApplied: number;
}

export interface RunProgress {
  runId: number;
  kind: RunKind;
  done: number;
  total: number;
  counts: RunCounts;
  elapsedMs: number;
  /** Tenants finished per second so far. */
  rate: number;
  /** Estimated time left, from the rate so far. */
  etaMs: number;
}

export interface RunOptions {
  /** Which tenants: a list of keys (in that order unless `order` is given), or a predicate. Default: all. */
  tenants?: readonly string[] | ((tenant: TenantInfo) => boolean);
  /** Order of the rollout. Default "key" (or the order of a `tenants` list). */
  order?: "key" | "created" | "last-active" | ((a: TenantInfo, b: TenantInfo) => number);
  /** Tenants migrated at once. Default: 16 per worker thread, two threads per core (16 in this thread without workers). */
  concurrency?: number;
  /** Stop at the first failure (default), or go on and report every failure. */
  onError?: "stop" | "continue";
  /** Apply and roll back everywhere: reports which tenants would fail, changes nothing. */
  trial?: boolean;
  /** Called as tenants finish. */
  onProgress?: (progress: RunProgress) => void;
  /**
   * Worker threads (when the driver and the migrations allow them): true, or
   * false for this thread. Default: workers when at least 1,000 tenants are to
   * be migrated; fewer finish sooner than threads start.
   */
  workers?: boolean;
  /** Stop dispatching new tenants; the run ends "stopped". */
  signal?: AbortSignal;
}

export interface RollbackOptions {
  concurrency?: number;
  onError?: "stop" | "continue";
  onProgress?: (progress: RunProgress) => void;
  workers?: boolean;
  signal?: AbortSignal;
}

export interface MigrationRun {
  id: number;
  kind: RunKind;
  status: RunStatus;
  targetVersion: number;
  rollbackOf: number | null;
  options: Record<string, unknown>;
  startedAt: Date;
  finishedAt: Date | null;
  counts: RunCounts;
}

export interface TenantOutcome {
  key: string;
  position: number;
  outcome: OutcomeKind;
  fromVersion: number | null;
  toVersion: number | null;
  error: string | null;
}

export interface FleetStatus {
  /** The version a fully migrated tenant has (migrations over every track). */
  targetVersion: number;
  tenants: number;
  /** How many tenants are at each version, highest first. */
  versions: Array<{ version: number; tenants: number }>;
  /** Tenants below the target version. */
  behind: number;
  /** Failed tenants and why (at most 100). */
  failed: Array<{ key: string; error: string | null }>;
  /** Tenants held at an earlier version by a rollback. */
  pinned: number;
  /** The latest runs, newest first. */
  runs: MigrationRun[];
}

export interface RolloutDeps {
  catalog: Catalog;
  driver: StorageDriver;
  pool: TenantPool;
  tracks(): MigrationTrack[];
  workerModule?: string;
}

const FLUSH_EVERY = 200;
/** Tenants in flight at once in this thread: their flushes overlap (see durableOnDestroy). */
const IN_PROCESS_CONCURRENCY = 16;
/**
 * Below this many tenants to migrate, starting worker threads costs more than
 * they save: measured here, 300 tenants took 0.47–0.59 s in this thread and
 * 0.89–1.1 s with workers; 1,000 took 2.2–2.3 s here and 1.7–2.3 s with workers.
 */
const WORKERS_FROM_TENANTS = 1000;
const HEARTBEAT_MS = 1000;
const STALE_AFTER_MS = 30_000;
const OWNER = `${hostname()}:${process.pid}`;

function emptyCounts(): RunCounts {
  return {
    total: 0,
    pending: 0,
    migrated: 0,
    skipped: 0,
    failed: 0,
    notReached: 0,
    wouldMigrate: 0,
    wouldFail: 0,
    rolledBack: 0,
    notApplied: 0,
  };
}

const COUNT_FIELD: Record<OutcomeKind, keyof RunCounts> = {
  pending: "pending",
  migrated: "migrated",
  skipped: "skipped",
  failed: "failed",
  "not-reached": "notReached",
  "would-migrate": "wouldMigrate",
  "would-fail": "wouldFail",
  "rolled-back": "rolledBack",
  "not-applied": "notApplied",
};

/** Whether the process that owns a run is gone (same host: by pid; else: by heartbeat). */
function ownerGone(run: Pick<MigrationRunsTable, "owner" | "heartbeat_at">): boolean {
  if (Date.now() - Number(run.heartbeat_at) > STALE_AFTER_MS) return true;
  const [host, pid] = run.owner.split(":");
  if (host !== hostname()) return false;
  if (Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function totalOf(tracks: readonly MigrationTrack[]): number {
  return tracks.reduce((sum, track) => sum + track.migrations.length, 0);
}

function validateConcurrency(concurrency: number | undefined): void {
  if (
    concurrency !== undefined &&
    (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
  ) {
    throw new InvalidArgument("concurrency must be an integer from 1 to 256.");
  }
}

interface Job {
  row: TenantRow;
  position: number;
}

/** `work`, closing the executor being started if it fails (worker threads would keep the process alive). */
async function closingOnError<T>(starting: Promise<FleetExecutor>, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    await (await starting.catch(() => undefined))?.close();
    throw error;
  }
}

/** A tenant's outcome, waiting to be written to the catalog with others. */
interface OutcomeWrite {
  tenantId: number;
  outcome: OutcomeKind;
  result: FleetResult;
}

/** Most of a run's outcomes are alike: written as one statement per distinct outcome. */
const WRITE_CHUNK = 500;

export class Rollout {
  readonly #deps: RolloutDeps;
  /** Runs of this process, so reconciliation leaves them alone. */
  readonly #active = new Set<number>();

  constructor(deps: RolloutDeps) {
    this.#deps = deps;
  }

  get #db() {
    return this.#deps.catalog.db;
  }

  async run(options: RunOptions = {}): Promise<MigrationRun> {
    validateConcurrency(options.concurrency);
    if (options.onError !== undefined && !["stop", "continue"].includes(options.onError)) {
      throw new InvalidArgument('onError must be "stop" or "continue".');
    }
    await this.reconcile();
    const tracks = this.#deps.tracks();
    const target = totalOf(tracks);
    const selected = await this.#select(options);
    const kind: RunKind = options.trial ? "trial" : "migrate";
    const recorded = {
      tenants: Array.isArray(options.tenants)
        ? options.tenants.length
        : options.tenants
          ? "filter"
          : "all",
      order: typeof options.order === "function" ? "custom" : (options.order ?? "key"),
      concurrency: options.concurrency ?? null,
      onError: options.onError ?? "stop",
      trial: options.trial === true,
    };
    // Up to date per the catalog, and not held back by a rollback: nothing to open.
    const jobs: Job[] = [];
    const skipped: Job[] = [];
    selected.forEach((row, position) => {
      const current =
        Number(row.schema_version) === target && !row.pinned && row.status !== "failed";
      (current ? skipped : jobs).push({ row, position });
    });
    const starting = this.#startExecutor(tracks, options, jobs.length);
    const runId = await closingOnError(
      starting,
      this.#startRun(kind, target, recorded, null, selected),
    );
    await closingOnError(starting, this.#recordSkipped(runId, target, skipped));
    return this.#execute(
      runId,
      kind,
      starting,
      jobs,
      selected.length,
      skipped.length,
      options,
      (job) => ({
        kind: options.trial ? "trial" : "migrate",
        storage: job.row.storage_name,
        runId,
      }),
    );
  }

  async #recordSkipped(runId: number, target: number, skipped: readonly Job[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (let i = 0; i < skipped.length; i += 500) {
        const ids = skipped.slice(i, i + 500).map((job) => Number(job.row.id));
        await trx
          .updateTable("migration_outcomes")
          .set({
            outcome: "skipped",
            from_version: target,
            to_version: target,
            finished_at: Date.now(),
          })
          .where("run_id", "=", runId)
          .where("tenant_id", "in", ids)
          .execute();
      }
    });
  }

  async rollback(runId: number, options: RollbackOptions = {}): Promise<MigrationRun> {
    validateConcurrency(options.concurrency);
    await this.reconcile();
    const original = await this.#db
      .selectFrom("migration_runs")
      .selectAll()
      .where("id", "=", runId)
      .executeTakeFirst();
    if (!original) throw new InvalidArgument(`There is no migration run ${runId}.`, { runId });
    if (original.kind !== "migrate") {
      throw new InvalidArgument(
        `Run ${runId} is a ${original.kind} run; only migrate runs can be rolled back.`,
      );
    }
    if (original.status === "running") throw new InvalidArgument(`Run ${runId} is still running.`);
    const migrated = await this.#db
      .selectFrom("migration_outcomes")
      .innerJoin("tenants", "tenants.id", "migration_outcomes.tenant_id")
      .selectAll("tenants")
      .where("migration_outcomes.run_id", "=", runId)
      .where("migration_outcomes.outcome", "=", "migrated")
      .where("tenants.status", "<>", "deleted")
      // Tenants an earlier rollback of this run already undid have nothing left to undo.
      // (Looked up by (run_id, tenant_id), the primary key: scanning every outcome of
      // every run for each tenant took seconds once a catalog held a few runs.)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("migration_outcomes as undone")
              .select("undone.tenant_id")
              .where("undone.run_id", "in", (sub) =>
                sub.selectFrom("migration_runs").select("id").where("rollback_of", "=", runId),
              )
              .whereRef("undone.tenant_id", "=", "migration_outcomes.tenant_id")
              .where("undone.outcome", "=", "rolled-back"),
          ),
        ),
      )
      .orderBy("migration_outcomes.position", "desc")
      .execute();
    const tracks = this.#deps.tracks();
    const recorded = {
      rollbackOf: runId,
      concurrency: options.concurrency ?? null,
      onError: options.onError ?? "stop",
    };
    const starting = this.#startExecutor(tracks, options, migrated.length);
    const rollbackId = await closingOnError(
      starting,
      this.#startRun("rollback", totalOf(tracks), recorded, runId, migrated),
    );
    const jobs = migrated.map((row, position) => ({ row, position }));
    return this.#execute(
      rollbackId,
      "rollback",
      starting,
      jobs,
      jobs.length,
      0,
      options,
      (job) => ({
        kind: "rollback",
        storage: job.row.storage_name,
        runId: rollbackId,
        targetRunId: runId,
      }),
    );
  }

  async #select(options: RunOptions): Promise<TenantRow[]> {
    let rows = await this.#db
      .selectFrom("tenants")
      .selectAll()
      .where("status", "<>", "deleted")
      .orderBy("key")
      .execute();
    if (Array.isArray(options.tenants)) {
      const byKey = new Map(rows.map((row) => [row.key, row]));
      const missing = options.tenants.filter((key) => !byKey.has(key));
      if (missing.length > 0) {
        throw new InvalidArgument(
          `Unknown tenants: ${missing
            .slice(0, 10)
            .map((k) => JSON.stringify(k))
            .join(", ")}`,
          {
            missing: missing.slice(0, 100),
          },
        );
      }
      rows = [...new Set(options.tenants)].map((key) => byKey.get(key)!);
    } else if (typeof options.tenants === "function") {
      const keep = options.tenants;
      rows = rows.filter((row) => keep(toTenantInfo(row)));
    }
    const order = options.order ?? (Array.isArray(options.tenants) ? undefined : "key");
    if (order === "created") rows.sort((a, b) => Number(a.created_at) - Number(b.created_at));
    else if (order === "last-active")
      rows.sort((a, b) => Number(b.last_active_at ?? 0) - Number(a.last_active_at ?? 0));
    else if (typeof order === "function")
      rows.sort((a, b) => order(toTenantInfo(a), toTenantInfo(b)));
    else if (order !== undefined && order !== "key")
      throw new InvalidArgument(`Unknown order ${String(order)}.`);
    return rows;
  }

  async #startRun(
    kind: RunKind,
    target: number,
    options: Record<string, unknown>,
    rollbackOf: number | null,
    rows: readonly TenantRow[],
  ): Promise<number> {
    const now = Date.now();
    return this.#db.transaction().execute(async (trx) => {
      const run = await trx
        .insertInto("migration_runs")
        .values({
          kind,
          status: "running",
          options: JSON.stringify(options),
          target_version: target,
          rollback_of: rollbackOf,
          owner: OWNER,
          heartbeat_at: now,
          started_at: now,
          finished_at: null,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      const runId = Number(run.id);
      this.#active.add(runId);
      for (let i = 0; i < rows.length; i += 500) {
        await trx
          .insertInto("migration_outcomes")
          .values(
            rows.slice(i, i + 500).map((row, j) => ({
              run_id: runId,
              tenant_id: Number(row.id),
              tenant_key: row.key,
              position: i + j,
              outcome: "pending" as const,
              from_version: Number(row.schema_version),
              to_version: null,
              error: null,
              finished_at: null,
            })),
          )
          .execute();
      }
      return runId;
    });
  }

  /** Starts the executor while the run is being recorded: worker threads take a while to start. */
  #startExecutor(
    tracks: MigrationTrack[],
    options: { concurrency?: number; workers?: boolean },
    tenants: number,
  ): Promise<FleetExecutor> {
    const starting = this.#executor(tracks, options, tenants);
    starting.catch(() => {}); // awaited (and thrown) by #execute
    return starting;
  }

  async #executor(
    tracks: MigrationTrack[],
    options: { concurrency?: number; workers?: boolean },
    tenants: number,
  ): Promise<FleetExecutor> {
    const config = this.#deps.driver.workerConfig?.();
    const wanted = tenants > 0 && (options.workers ?? tenants >= WORKERS_FROM_TENANTS);
    const canUseWorkers =
      wanted &&
      config !== undefined &&
      workerCanRun(tracks, TENANT_MIGRATIONS_TABLE, this.#deps.workerModule !== undefined);
    if (canUseWorkers) {
      // The definition's module is loaded in the workers only for migrations
      // written as functions: without it, the workers run bundled (faster to start).
      const needsModule = tracks.some((track) => track.migrations.some((m) => !m.recipe));
      const workerModule = needsModule ? this.#deps.workerModule : undefined;
      return createWorkerExecutor({
        driver: config,
        tracks: serializeTracks(tracks),
        ...(workerModule ? { workerModule } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      });
    }
    return createInProcessExecutor(
      this.#deps.driver,
      tracks,
      options.concurrency ?? IN_PROCESS_CONCURRENCY,
    );
  }

  async #execute(
    runId: number,
    kind: RunKind,
    starting: Promise<FleetExecutor>,
    jobs: Job[],
    total: number,
    alreadyDone: number,
    options: RunOptions | RollbackOptions,
    taskOf: (job: Job) => FleetTask,
  ): Promise<MigrationRun> {
    const counts = emptyCounts();
    counts.total = total;
    counts.skipped = alreadyDone;
    counts.pending = jobs.length;
    const started = Date.now();
    let done = alreadyDone;
    let stopping = false;
    let writes: OutcomeWrite[] = [];
    const flush = async () => {
      const batch = writes;
      writes = [];
      await this.#db.transaction().execute(async (trx) => {
        await this.#writeOutcomes(trx, runId, kind, batch);
        await trx
          .updateTable("migration_runs")
          .set({ heartbeat_at: Date.now() })
          .where("id", "=", runId)
          .execute();
      });
    };
    let flushing = Promise.resolve();
    const heartbeat = setInterval(() => {
      flushing = flushing.then(flush).catch(() => {});
    }, HEARTBEAT_MS);
    heartbeat.unref();

    const report = () => {
      const elapsedMs = Date.now() - started;
      const rate = done / Math.max(elapsedMs / 1000, 0.001);
      options.onProgress?.({
        runId,
        kind,
        done,
        total,
        counts: { ...counts },
        elapsedMs,
        rate,
        etaMs: rate > 0 ? ((total - done) / rate) * 1000 : 0,
      });
    };

    const record = (job: Job, result: FleetResult) => {
      const outcome = this.#outcomeOf(kind, result);
      counts.pending--;
      counts[COUNT_FIELD[outcome]]++;
      done++;
      if (outcome === "failed" && (options.onError ?? "stop") === "stop") stopping = true;
      writes.push({ tenantId: Number(job.row.id), outcome, result });
      if (writes.length >= FLUSH_EVERY) flushing = flushing.then(flush);
      report();
    };

    let executor: FleetExecutor | undefined;
    // Thrown after the run is recorded as stopped (e.g. worker threads that cannot start).
    let failure: { error: unknown } | undefined;
    try {
      executor = await starting;
      report();
      let next = 0;
      const lane = async () => {
        while (!stopping && !options.signal?.aborted && next < jobs.length) {
          const job = jobs[next++]!;
          const task = taskOf(job);
          const result = await this.#deps.pool.exclusive(job.row.key, () => executor!.run(task));
          record(job, result);
        }
      };
      // A few more than the executor's width keep worker threads fed while results travel back.
      const lanes = executor.parallel
        ? executor.concurrency + Math.ceil(executor.concurrency / 2)
        : executor.concurrency;
      await Promise.all(Array.from({ length: Math.min(lanes, Math.max(jobs.length, 1)) }, lane));
    } catch (error) {
      failure = { error };
    } finally {
      clearInterval(heartbeat);
      await executor?.close();
      await flushing;
      await flush();
    }
    const stopped = failure !== undefined || stopping || options.signal?.aborted === true;
    const finishedAt = Date.now();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable("migration_outcomes")
        .set({ outcome: "not-reached", finished_at: finishedAt })
        .where("run_id", "=", runId)
        .where("outcome", "=", "pending")
        .execute();
      await trx
        .updateTable("migration_runs")
        .set({
          status: stopped ? "stopped" : "completed",
          finished_at: finishedAt,
          heartbeat_at: finishedAt,
        })
        .where("id", "=", runId)
        .execute();
    });
    this.#active.delete(runId);
    if (failure) throw failure.error;
    return this.getRun(runId);
  }

  #outcomeOf(kind: RunKind, result: FleetResult): OutcomeKind {
    switch (result.outcome) {
      case "migrated":
        return "migrated";
      case "current":
        return "skipped";
      case "would-migrate":
        return "would-migrate";
      case "would-fail":
        return "would-fail";
      case "rolled-back":
        return "rolled-back";
      case "not-applied":
        return kind === "rollback" ? "not-applied" : "skipped";
      default:
        return "failed";
    }
  }

  /**
   * Records outcomes, and what they mean for each tenant's catalog row. Equal
   * outcomes (the same kind, versions and error) share one statement each.
   */
  async #writeOutcomes(
    db: Kysely<CatalogSchema>,
    runId: number,
    kind: RunKind,
    writes: readonly OutcomeWrite[],
  ): Promise<void> {
    const groups = new Map<string, OutcomeWrite[]>();
    for (const write of writes) {
      const { outcome, result } = write;
      const pinned = kind === "rollback" ? JSON.stringify(result.versions ?? {}) : null;
      const key = JSON.stringify([outcome, result.from, result.to, result.error ?? null, pinned]);
      const group = groups.get(key);
      if (group) group.push(write);
      else groups.set(key, [write]);
    }
    const now = Date.now();
    for (const group of groups.values()) {
      const { outcome, result } = group[0]!;
      for (let i = 0; i < group.length; i += WRITE_CHUNK) {
        const ids = group.slice(i, i + WRITE_CHUNK).map((write) => write.tenantId);
        await db
          .updateTable("migration_outcomes")
          .set({
            outcome,
            from_version: result.from,
            to_version: result.to,
            error: result.error ?? null,
            finished_at: now,
          })
          .where("run_id", "=", runId)
          .where("tenant_id", "in", ids)
          .execute();
        const tenants = db
          .updateTable("tenants")
          .where("id", "in", ids)
          .where("status", "<>", "deleted");
        if (kind === "migrate" && (outcome === "migrated" || outcome === "skipped")) {
          // Migrated (or found current): the tenant is at the code's version, failed no more, held no more.
          await tenants
            .set((eb) => ({
              schema_version: result.to ?? 0,
              pinned: null,
              error: null,
              updated_at: now,
              status: eb
                .case()
                .when("status", "=", "failed")
                .then("active" as TenantStatus)
                .else(eb.ref("status"))
                .end(),
            }))
            .execute();
        } else if (kind === "migrate" && outcome === "failed") {
          await tenants
            .set({ status: "failed", error: result.error ?? "migration failed", updated_at: now })
            .execute();
        } else if (kind === "rollback" && outcome === "rolled-back") {
          await tenants
            .set({
              schema_version: result.to ?? 0,
              pinned: JSON.stringify(result.versions ?? {}),
              updated_at: now,
            })
            .execute();
        }
      }
    }
  }

  /**
   * Settles runs whose process died: each tenant still "pending" is looked at
   * in its own database (did this run's stamp land?) and recorded as it is.
   */
  async reconcile(): Promise<void> {
    const running = await this.#db
      .selectFrom("migration_runs")
      .selectAll()
      .where("status", "=", "running")
      .execute();
    for (const run of running) {
      const runId = Number(run.id);
      if (this.#active.has(runId) || !ownerGone(run)) continue;
      const pending = await this.#db
        .selectFrom("migration_outcomes")
        .innerJoin("tenants", "tenants.id", "migration_outcomes.tenant_id")
        .selectAll("tenants")
        .select(["migration_outcomes.position"])
        .where("migration_outcomes.run_id", "=", runId)
        .where("migration_outcomes.outcome", "=", "pending")
        .execute();
      const tracks = this.#deps.tracks();
      const executor = createInProcessExecutor(this.#deps.driver, tracks, 1);
      const writes: OutcomeWrite[] = [];
      const lookFor = run.kind === "rollback" ? Number(run.rollback_of) : runId;
      for (const row of pending) {
        if (run.kind === "trial" || row.status === "deleted") {
          writes.push({
            tenantId: Number(row.id),
            outcome: "not-reached",
            result: { outcome: "not-applied", from: null, to: null },
          });
          continue;
        }
        const seen = await this.#deps.pool.exclusive(row.key, () =>
          executor.run({ kind: "inspect", storage: row.storage_name, runId, targetRunId: lookFor }),
        );
        let outcome: OutcomeKind;
        if (seen.outcome === "failed") outcome = "not-reached";
        else if (run.kind === "migrate")
          outcome = seen.outcome === "applied-by-run" ? "migrated" : "not-reached";
        else outcome = seen.outcome === "applied-by-run" ? "not-reached" : "rolled-back";
        const result: FleetResult = { ...seen, from: Number(row.schema_version), to: seen.to };
        if (outcome === "rolled-back") {
          // The rolled-back counts per track are not known here; hold at what the tenant has now.
          const versions = await this.#appliedPerTrack(row.storage_name, tracks);
          result.versions = versions;
        }
        writes.push({ tenantId: Number(row.id), outcome, result });
      }
      const finishedAt = Date.now();
      await this.#db.transaction().execute(async (trx) => {
        await this.#writeOutcomes(trx, runId, run.kind, writes);
        await trx
          .updateTable("migration_runs")
          .set({ status: "interrupted", finished_at: finishedAt })
          .where("id", "=", runId)
          .execute();
      });
    }
  }

  async #appliedPerTrack(
    storage: string,
    tracks: MigrationTrack[],
  ): Promise<Record<string, number>> {
    const driver = await this.#deps.driver.open(storage);
    try {
      const db = new Kysely<any>({ dialect: dialectOf(this.#deps.driver, driver) });
      const versions: Record<string, number> = {};
      for (const track of tracks)
        versions[track.table] = (await readApplied(db, track.table)).length;
      return versions;
    } finally {
      await driver.destroy();
    }
  }

  async #counts(runId: number): Promise<RunCounts> {
    const rows = await this.#db
      .selectFrom("migration_outcomes")
      .select(["outcome", (eb) => eb.fn.countAll<number>().as("n")])
      .where("run_id", "=", runId)
      .groupBy("outcome")
      .execute();
    const counts = emptyCounts();
    for (const row of rows) {
      const field = COUNT_FIELD[row.outcome as OutcomeKind];
      if (field) counts[field] += Number(row.n);
      counts.total += Number(row.n);
    }
    return counts;
  }

  #toRun(row: MigrationRunsTable & { id: number }, counts: RunCounts): MigrationRun {
    return {
      id: Number(row.id),
      kind: row.kind,
      status: row.status,
      targetVersion: Number(row.target_version),
      rollbackOf: row.rollback_of == null ? null : Number(row.rollback_of),
      options: JSON.parse(row.options) as Record<string, unknown>,
      startedAt: new Date(Number(row.started_at)),
      finishedAt: row.finished_at == null ? null : new Date(Number(row.finished_at)),
      counts,
    };
  }

  async getRun(runId: number): Promise<MigrationRun> {
    const row = await this.#db
      .selectFrom("migration_runs")
      .selectAll()
      .where("id", "=", runId)
      .executeTakeFirst();
    if (!row) throw new InvalidArgument(`There is no migration run ${runId}.`, { runId });
    return this.#toRun(row as MigrationRunsTable & { id: number }, await this.#counts(runId));
  }

  async runs(options: { limit?: number } = {}): Promise<MigrationRun[]> {
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidArgument("limit must be from 1 to 1000.");
    const rows = await this.#db
      .selectFrom("migration_runs")
      .selectAll()
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return Promise.all(
      rows.map(async (row) =>
        this.#toRun(row as MigrationRunsTable & { id: number }, await this.#counts(Number(row.id))),
      ),
    );
  }

  async outcomes(
    runId: number,
    options: { outcome?: OutcomeKind; limit?: number; afterPosition?: number } = {},
  ): Promise<TenantOutcome[]> {
    const limit = options.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
      throw new InvalidArgument("limit must be from 1 to 100000.");
    let query = this.#db
      .selectFrom("migration_outcomes")
      .select(["tenant_key", "position", "outcome", "from_version", "to_version", "error"])
      .where("run_id", "=", runId)
      .where("position", ">", options.afterPosition ?? -1);
    if (options.outcome) query = query.where("outcome", "=", options.outcome);
    const rows = await query.orderBy("position").limit(limit).execute();
    return rows.map((row) => ({
      key: row.tenant_key,
      position: Number(row.position),
      outcome: row.outcome,
      fromVersion: row.from_version == null ? null : Number(row.from_version),
      toVersion: row.to_version == null ? null : Number(row.to_version),
      error: row.error,
    }));
  }

  async status(): Promise<FleetStatus> {
    await this.reconcile();
    const target = totalOf(this.#deps.tracks());
    const versions = await this.#db
      .selectFrom("tenants")
      .select(["schema_version", (eb) => eb.fn.countAll<number>().as("n")])
      .where("status", "<>", "deleted")
      .groupBy("schema_version")
      .orderBy("schema_version", "desc")
      .execute();
    const failed = await this.#db
      .selectFrom("tenants")
      .select(["key", "error"])
      .where("status", "=", "failed")
      .orderBy("key")
      .limit(100)
      .execute();
    const pinned = await this.#db
      .selectFrom("tenants")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "<>", "deleted")
      .where("pinned", "is not", null)
      .executeTakeFirstOrThrow();
    const list = versions.map((row) => ({
      version: Number(row.schema_version),
      tenants: Number(row.n),
    }));
    return {
      targetVersion: target,
      tenants: list.reduce((sum, v) => sum + v.tenants, 0),
      versions: list,
      behind: list.filter((v) => v.version < target).reduce((sum, v) => sum + v.tenants, 0),
      failed: failed.map((row) => ({ key: row.key, error: row.error })),
      pinned: Number(pinned.n),
      runs: await this.runs({ limit: 10 }),
    };
  }
}
