/**
 * PostgreSQL at many tenant schemas: what 10,000 tenants cost the server.
 *
 *   npx tsx bench/pg-scale.ts [--tenants 10000] [--concurrency 32] [--out bench/results/pg-scale.json]
 *   npm run bench:pg-scale -- --tenants 1000
 *   npx tsx bench/pg-scale.ts --steps provision,catalog --keep    # make a database, keep it
 *   npx tsx bench/pg-scale.ts --database tb_bench_... --keep \
 *     --steps backup,size,list                                     # measure on it again
 *
 * `--steps` (default: all) is a comma-separated subset of provision, catalog,
 * memory, recycling, latency, backup, size, list, pgdump. `--database <name>`
 * reuses a database kept by an earlier `--keep` run of the same `--tenants`
 * (it is not provisioned again, and dropped at the end unless `--keep`).
 *
 * In a throwaway database `tb_bench_<random>` on the local server (see
 * bench/lib/postgres.ts; TENANTBASE_BENCH_PG_URL overrides where it is),
 * dropped at the end (`--keep` keeps it), it
 *
 * 1. creates N tenants through the engine (createTenantbase, the postgres
 *    driver, the company example's migrations), `--concurrency` at a time,
 *    and reports the rate (overall and per tenth of the run);
 * 2. reads the size of the system catalog (pg_class, pg_attribute,
 *    pg_namespace, ... rows; on-disk size of the pg_catalog relations) and of
 *    the database;
 * 3. touches 1, 100, 1,000, 10,000 tenants through a hub whose tenant pool
 *    has ONE connection (a wake and a one-row read on each) and reads that
 *    backend's memory after each step: /proc/<pid>/status (RssAnon),
 *    /proc/<pid>/smaps_rollup (Pss_Anon) and pg_backend_memory_contexts
 *    (CacheMemoryContext: relcache and catcache), on a connection that is never
 *    recycled; then touches 1,000 tenants on one connection of a hub with the
 *    driver's default settings and reads again once the default connection
 *    lifetime (maxLifetimeSeconds, 300 s) has passed (the wait overlaps the
 *    next steps, but makes a run at least that long);
 * 4. times a one-row read on random tenants: on a fresh hub (new
 *    connections), right after the tenant's wake on a warm connection that
 *    has not seen that schema yet, and again once it has (warm);
 * 5. times `pg_dump` of the whole database (in parts of 500 tenants when the
 *    server's lock table could not hold a lock on every table at once:
 *    pg_dump locks every table it dumps, in one transaction; `--full-dump`
 *    forces one run) and `pg_dump -n <one schema>`, and the engine's own
 *    per-tenant backup (`hub.tenants.backup`);
 * 6. times `hub.tenants.size`, `hub.tenants.list` paging through every
 *    tenant (each page too), and opening a hub (`hub.ready()`) on the big
 *    database.
 *
 * Prints a summary and writes everything as JSON to `--out`.
 */
import { spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { migrations } from "../examples/company/definition.js";
import { type PostgresStorageDriver, postgres, schemaOf } from "../src/drivers/postgres/index.js";
import { createTenantbase, storageName, type Tenantbase } from "../src/index.js";
import { type BenchDatabase, benchDatabase, ensurePostgres } from "./lib/postgres.js";
import { mulberry32, percentile } from "./lib/stats.js";

const { values: args } = parseArgs({
  options: {
    tenants: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "32" },
    max: { type: "string", default: "10" },
    out: { type: "string", default: "bench/results/pg-scale.json" },
    samples: { type: "string", default: "200" },
    "full-dump": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    database: { type: "string" },
    steps: {
      type: "string",
      default: "provision,catalog,memory,recycling,latency,backup,size,list,pgdump",
    },
  },
});

const STEPS = new Set(args.steps.split(",").map((step) => step.trim()));
const KNOWN_STEPS = [
  "provision",
  "catalog",
  "memory",
  "recycling",
  "latency",
  "backup",
  "size",
  "list",
  "pgdump",
];
for (const step of STEPS) {
  if (!KNOWN_STEPS.includes(step)) throw new Error(`--steps: unknown step ${step}`);
}
if (args.database !== undefined && !/^tb_bench_[0-9a-f]{12}$/.test(args.database)) {
  throw new Error("--database: the name of a kept tb_bench_<hex> database");
}
if (args.database !== undefined && STEPS.has("provision")) {
  throw new Error("--database reuses a provisioned database: leave provision out of --steps");
}

const TENANTS = Number(args.tenants);
const CONCURRENCY = Number(args.concurrency);
const POOL_MAX = Number(args.max);
const SAMPLES = Math.min(Number(args.samples), TENANTS);
const OUT = resolve(args.out);
for (const [name, value] of Object.entries({ TENANTS, CONCURRENCY, POOL_MAX, SAMPLES })) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
}
if (TENANTS > 99_999) throw new Error("--tenants: at most 99,999");

const keyOf = (i: number) => `tenant${String(i).padStart(5, "0")}`;
const schemaOfKey = (key: string) => schemaOf(storageName(key));
const now = () => process.hrtime.bigint();
const msSince = (start: bigint) => Number(now() - start) / 1e6;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

function summary(values: number[]) {
  return {
    n: values.length,
    meanMs: round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)),
    p50Ms: round(percentile(values, 50)),
    p90Ms: round(percentile(values, 90)),
    p99Ms: round(percentile(values, 99)),
    maxMs: round(Math.max(...values)),
  };
}

/** Every hub made, so a failed run still closes them all. */
const opened: Tenantbase[] = [];

function hubOf(url: string, options: Parameters<typeof postgres>[0] = {}): Tenantbase {
  const hub = createTenantbase({
    driver: postgres({ url, ...options }),
    migrations,
    pool: { maxOpen: 20_000, idleTimeoutMs: 0 },
  });
  opened.push(hub);
  return hub;
}

function poolOf(hub: Tenantbase): pg.Pool {
  return (hub.driver as PostgresStorageDriver).pool;
}

async function one<T = Record<string, unknown>>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
): Promise<T> {
  const { rows } = await pool.query(text, values);
  return rows[0] as T;
}

/** Runs `count` jobs, `concurrency` at a time. */
async function inLanes(
  count: number,
  concurrency: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

function run(
  command: string,
  argv: string[],
): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const started = now();
    const child = spawn(command, argv, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ ms: msSince(started), code, stderr }));
  });
}

/** `pg_dump -Fc` of the schemas matching `pattern` into `file`; throws if it fails. */
async function dumpSchemas(url: string, file: string, pattern: string) {
  const dump = await run("pg_dump", [`--dbname=${url}`, "-Fc", "-f", file, "-n", pattern]);
  if (dump.code !== 0) throw new Error(`pg_dump -n ${pattern} failed: ${dump.stderr}`);
  return dump;
}

/** The server-side memory of one backend: the kernel's view and PostgreSQL's own. */
async function backendMemory(pool: pg.Pool) {
  const { pid } = await one<{ pid: number }>(pool, "select pg_backend_pid() as pid");
  const kb = (text: string, field: string): number | null => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) : null;
  };
  let proc: {
    vmRssKiB?: number | null;
    rssAnonKiB?: number | null;
    rssShmemKiB?: number | null;
    pssKiB?: number | null;
    pssAnonKiB?: number | null;
  } = {};
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    proc = {
      vmRssKiB: kb(status, "VmRSS"),
      rssAnonKiB: kb(status, "RssAnon"),
      rssShmemKiB: kb(status, "RssShmem"),
      pssKiB: kb(rollup, "Pss"),
      pssAnonKiB: kb(rollup, "Pss_Anon"),
    };
  } catch {
    // The server is on another machine (or /proc is not readable): contexts only.
  }
  const contexts = await one<Record<string, string>>(
    pool,
    `select sum(total_bytes)::bigint as total,
            sum(total_bytes) filter (where name = 'CacheMemoryContext' or parent = 'CacheMemoryContext')::bigint as cache,
            count(*) filter (where parent = 'CacheMemoryContext')::bigint as cache_children
       from pg_backend_memory_contexts`,
  );
  return {
    pid,
    ...proc,
    contextsTotalKiB: Math.round(Number(contexts.total) / 1024),
    cacheMemoryContextKiB: Math.round(Number(contexts.cache) / 1024),
    cacheChildContexts: Number(contexts.cache_children),
  };
}

/** A database kept by an earlier `--keep` run. */
async function keptDatabase(name: string): Promise<BenchDatabase> {
  const base = await ensurePostgres();
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      return (await client.query(text, [])).rows;
    } finally {
      await client.end();
    }
  };
  // The name matched tb_bench_<hex> above: a plain identifier.
  const found = await admin(`select 1 from pg_database where datname = '${name}'`);
  if (found.length === 0) throw new Error(`--database: no database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const db = args.database ? await keptDatabase(args.database) : await benchDatabase();
  const tmp = mkdtempSync(join(tmpdir(), "tb-pg-scale-"));
  const result: Record<string, unknown> = {
    startedAt,
    tenants: TENANTS,
    steps: [...STEPS],
    ...(args.database ? { reusedDatabase: args.database } : {}),
    machine: {
      cpuModel: cpus()[0]?.model.trim() ?? "unknown",
      cores: cpus().length,
      totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
      loadAverageAtStart: loadavg().map((n) => round(n)),
      node: process.version,
    },
  };
  log(`database ${db.name}, ${TENANTS} tenants, concurrency ${CONCURRENCY}, pool ${POOL_MAX}`);
  const write = () => {
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  };
  try {
    // 1. Provisioning.
    const creator = hubOf(db.url, { max: POOL_MAX });
    const settings = await (async () => {
      await creator.ready();
      const { rows } = await poolOf(creator).query(
        `select name, setting from pg_settings where name in ('server_version', 'fsync',
           'synchronous_commit', 'shared_buffers', 'max_connections', 'max_locks_per_transaction',
           'max_prepared_transactions', 'work_mem', 'data_directory')`,
      );
      return Object.fromEntries(rows.map((r) => [r.name, r.setting])) as Record<string, string>;
    })();
    result.server = settings;
    log(`PostgreSQL ${settings.server_version}, fsync ${settings.fsync}`);
    if (STEPS.has("provision")) {
      const segment = Math.max(1, Math.round(TENANTS / 10));
      const segmentRates: Array<{ upTo: number; tenantsPerSecond: number }> = [];
      const createMs: number[] = [];
      let done = 0;
      let segmentStart = now();
      const provisionStart = now();
      await inLanes(TENANTS, CONCURRENCY, async (i) => {
        const started = now();
        try {
          await creator.tenants.create(keyOf(i));
        } catch (error) {
          log(`create ${keyOf(i)} failed once (${(error as Error).message}); retrying`);
          await creator.tenants.create(keyOf(i));
        }
        createMs.push(msSince(started));
        done++;
        if (done % segment === 0 || done === TENANTS) {
          const rate = (done % segment || segment) / (msSince(segmentStart) / 1000);
          segmentRates.push({ upTo: done, tenantsPerSecond: round(rate, 1) });
          log(`created ${done}/${TENANTS} (${rate.toFixed(1)} tenants/s in the last part)`);
          segmentStart = now();
        }
      });
      const provisionSeconds = msSince(provisionStart) / 1000;
      result.provisioning = {
        tenants: TENANTS,
        concurrency: CONCURRENCY,
        poolMax: POOL_MAX,
        seconds: round(provisionSeconds, 1),
        tenantsPerSecond: round(TENANTS / provisionSeconds, 1),
        perCreate: summary(createMs),
        byTenth: segmentRates,
      };
      log(`provisioned ${TENANTS} in ${provisionSeconds.toFixed(1)} s`);
      write();
    } else {
      const count = await creator.tenants.count();
      if (count !== TENANTS) throw new Error(`${db.name} has ${count} tenants, not ${TENANTS}`);
    }

    // A row in each sampled tenant, for the read latencies and the backups.
    const random = mulberry32(7);
    const sample = new Set<number>();
    while (sample.size < SAMPLES) sample.add(Math.floor(random() * TENANTS));
    const sampled = [...sample].map(keyOf);
    await inLanes(sampled.length, 8, async (i) => {
      const t = await creator.tenant(sampled[i]!);
      await t.db
        .insertInto("employees")
        .values({ id: 1, name: "Ada Lovelace", role: "Engineer", created_at: startedAt })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
    });
    await creator.close();

    // 2. The catalog. (The probe's connection is never recycled: step 3 measures what it caches.)
    const probe = hubOf(db.url, {
      max: 1,
      catalogMax: 1,
      spares: 0,
      events: false,
      poolConfig: { idleTimeoutMillis: 0, maxLifetimeSeconds: 0 },
    });
    await probe.ready();
    const pool = poolOf(probe);
    const counts = await one<Record<string, string>>(
      pool,
      `select (select count(*) from pg_class) as pg_class,
              (select count(*) from pg_attribute) as pg_attribute,
              (select count(*) from pg_namespace) as pg_namespace,
              (select count(*) from pg_type) as pg_type,
              (select count(*) from pg_depend) as pg_depend,
              (select count(*) from pg_index) as pg_index,
              (select count(*) from pg_constraint) as pg_constraint,
              (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')) as user_tables`,
    );
    if (STEPS.has("catalog")) {
      const perTenant = await one<Record<string, string>>(
        pool,
        `with own as (select oid, relkind, reltoastrelid from pg_class where relnamespace = $1::regnamespace),
            toast as (select oid from pg_class where oid in (select reltoastrelid from own)),
            toast_index as (select indexrelid as oid from pg_index where indrelid in (select oid from toast)),
            every as (select oid from own union all select oid from toast union all select oid from toast_index)
       select (select count(*) from every) as relations,
              (select count(*) from own where relkind = 'r') as tables,
              (select count(*) from own where relkind = 'i') as indexes,
              (select count(*) from toast) as toast_tables,
              (select count(*) from toast_index) as toast_indexes,
              (select count(*) from own where relkind = 'S') as sequences,
              (select count(*) from pg_attribute where attrelid in (select oid from every)) as attributes`,
        [`"${schemaOfKey(keyOf(0))}"`],
      );
      const sizes = await one<Record<string, string>>(
        pool,
        `select (select sum(pg_total_relation_size(c.oid)) from pg_class c
                where c.relnamespace = 'pg_catalog'::regnamespace and c.relkind = 'r') as pg_catalog_bytes,
              pg_total_relation_size('pg_class') as pg_class_bytes,
              pg_total_relation_size('pg_attribute') as pg_attribute_bytes,
              pg_total_relation_size('pg_depend') as pg_depend_bytes,
              pg_total_relation_size('pg_type') as pg_type_bytes,
              pg_database_size(current_database()) as database_bytes,
              (select oid from pg_database where datname = current_database()) as database_oid`,
      );
      let files: number | null = null;
      try {
        files = readdirSync(
          join(settings.data_directory ?? "", "base", String(sizes.database_oid)),
        ).length;
      } catch {
        // Not on this machine.
      }
      const mib = (bytes: string | undefined) => round(Number(bytes) / 1024 / 1024, 1);
      result.catalog = {
        rows: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, Number(v)])),
        perTenantSchema: Object.fromEntries(
          Object.entries(perTenant).map(([k, v]) => [k, Number(v)]),
        ),
        sizesMiB: {
          pgCatalog: mib(sizes.pg_catalog_bytes),
          pgClass: mib(sizes.pg_class_bytes),
          pgAttribute: mib(sizes.pg_attribute_bytes),
          pgDepend: mib(sizes.pg_depend_bytes),
          pgType: mib(sizes.pg_type_bytes),
          database: mib(sizes.database_bytes),
        },
        filesInDatabaseDirectory: files,
      };
      log(
        `catalog: ${counts.pg_class} pg_class rows, ${counts.pg_attribute} pg_attribute rows, ` +
          `pg_catalog ${mib(sizes.pg_catalog_bytes)} MiB, database ${mib(sizes.database_bytes)} MiB`,
      );
      write();
    }

    // 3. One backend's memory as it touches more and more schemas.
    if (STEPS.has("memory")) {
      const checkpoints = [1, 100, 1000, 10_000].filter((n) => n < TENANTS);
      checkpoints.push(TENANTS);
      const memory: Array<Record<string, unknown>> = [];
      await one(pool, "select 1");
      memory.push({ touched: 0, ...(await backendMemory(pool)) });
      const touchStart = now();
      let touched = 0;
      for (const target of checkpoints) {
        const stepStart = now();
        const from = touched;
        for (; touched < target; touched++) {
          const t = await probe.tenant(keyOf(touched));
          await t.db.selectFrom("employees").selectAll().limit(1).execute();
        }
        const entry = {
          touched,
          msPerTenant: round(msSince(stepStart) / Math.max(1, touched - from), 3),
          ...(await backendMemory(pool)),
        };
        memory.push(entry);
        log(
          `one backend after ${touched} schemas: RssAnon ${entry.rssAnonKiB} KiB, ` +
            `CacheMemoryContext ${entry.cacheMemoryContextKiB} KiB`,
        );
      }
      result.backendMemory = { secondsToTouchAll: round(msSince(touchStart) / 1000, 1), memory };
    }
    await probe.close();

    // The driver's default connection lifetime (pg.Pool's maxLifetimeSeconds; poolConfig overrides
    // it): a connection is replaced once it is older than that, and the new backend starts with
    // empty caches. Touch 1,000 schemas on one connection, then (while the next steps run) wait out
    // the lifetime and read again.
    let recycled: Promise<void> = Promise.resolve();
    if (STEPS.has("recycling")) {
      const recycling = hubOf(db.url, {
        max: 1,
        catalogMax: 1,
        spares: 0,
        events: false,
        poolConfig: { idleTimeoutMillis: 0 },
      });
      await recycling.ready();
      const lifetime = Number(
        (poolOf(recycling) as unknown as { options: { maxLifetimeSeconds: number } }).options
          .maxLifetimeSeconds,
      );
      const recycleStart = now();
      const firstPid = (await backendMemory(poolOf(recycling))).pid;
      const recycleCount = Math.min(1000, TENANTS);
      for (let i = 0; i < recycleCount; i++) {
        const t = await recycling.tenant(keyOf(i));
        await t.db.selectFrom("employees").selectAll().limit(1).execute();
      }
      const before = await backendMemory(poolOf(recycling));
      const beforeSeconds = msSince(recycleStart) / 1000;
      log(
        `default maxLifetimeSeconds ${lifetime}: ${recycleCount} schemas touched on backend ${before.pid} ` +
          `(${before.cacheMemoryContextKiB} KiB cache); reading again after the lifetime`,
      );
      recycled = (async () => {
        if (!(lifetime > 0)) throw new Error("the driver sets no connection lifetime");
        await new Promise((resolveSleep) =>
          setTimeout(resolveSleep, Math.max(0, (lifetime + 1 - beforeSeconds) * 1000)),
        );
        const t = await recycling.tenant(keyOf(0));
        await t.db.selectFrom("employees").selectAll().limit(1).execute();
        const after = await backendMemory(poolOf(recycling));
        result.recycling = {
          poolConfig: { maxLifetimeSeconds: lifetime, note: "the driver's default" },
          touchedOnTheFirstConnection: before.pid === firstPid,
          touched: recycleCount,
          secondsToTouch: round(beforeSeconds, 1),
          before,
          afterLifetime: after,
          replaced: before.pid !== after.pid,
        };
        log(
          `maxLifetimeSeconds ${lifetime}: backend ${before.pid} (${before.cacheMemoryContextKiB} KiB cache) -> ` +
            `${after.pid} (${after.cacheMemoryContextKiB} KiB cache)`,
        );
        await recycling.close();
        write();
      })();
      // Awaited at the end; a failure is reported there.
      recycled.catch(() => {});
    }

    // 4 and 6. Opening a hub on the big database, its first request; then reads cold and warm.
    if (STEPS.has("latency")) {
      const opens: number[] = [];
      const firstRequests: number[] = [];
      for (let trial = 0; trial < 5; trial++) {
        const started = now();
        const hub = hubOf(db.url, { max: 4, spares: 0 });
        await hub.ready();
        opens.push(msSince(started));
        const requestStart = now();
        const t = await hub.tenant(sampled[trial]!);
        await t.db.selectFrom("employees").selectAll().limit(1).execute();
        firstRequests.push(msSince(requestStart));
        await hub.close();
      }
      result.latency = { hubReady: summary(opens), firstRequestOnFreshHub: summary(firstRequests) };
    }
    const reader = hubOf(db.url, {
      max: 4,
      spares: 0,
      events: false,
      poolConfig: { idleTimeoutMillis: 0 },
    });
    await reader.ready();
    // Four connections open, none has seen a sampled schema.
    await Promise.all([1, 2, 3, 4].map(() => poolOf(reader).query("select 1")));
    if (STEPS.has("latency")) {
      const wakes: number[] = [];
      const coldReads: number[] = [];
      const warmReads: number[] = [];
      const read = async (key: string) => {
        const t = await reader.tenant(key);
        const started = now();
        const rows = await t.db.selectFrom("employees").selectAll().limit(1).execute();
        if (rows.length !== 1) throw new Error(`${key}: expected one row`);
        return msSince(started);
      };
      for (const key of sampled) {
        const started = now();
        await reader.tenant(key);
        wakes.push(msSince(started));
        coldReads.push(await read(key));
      }
      for (let pass = 0; pass < 3; pass++) {
        for (const key of sampled) warmReads.push(await read(key));
      }
      const { hubReady, firstRequestOnFreshHub } = result.latency as Record<string, unknown>;
      result.latency = {
        note: "one-row read through a tenant handle (BEGIN batch, SELECT, COMMIT: 3 round trips)",
        hubReady,
        firstRequestOnFreshHub,
        wake: summary(wakes),
        readSchemaColdOnWarmConnection: summary(coldReads),
        readWarm: summary(warmReads),
      };
      log(
        `hub.ready ${(hubReady as { p50Ms: number }).p50Ms.toFixed(1)} ms; read cold ${percentile(coldReads, 50).toFixed(2)} ms, ` +
          `warm ${percentile(warmReads, 50).toFixed(2)} ms (p50)`,
      );
      write();
    }

    // 5. Backups (the engine's; pg_dump's below).
    const backups: number[] = [];
    let backupBytes = 0;
    if (STEPS.has("backup")) {
      for (let trial = 0; trial < 20; trial++) {
        const started = now();
        const file = join(tmp, `engine-${trial}.json`);
        backupBytes = (await reader.tenants.backup(sampled[trial % SAMPLES]!, file)).bytes;
        backups.push(msSince(started));
      }
      result.backup = { engineBackupOneTenant: { ...summary(backups), bytes: backupBytes } };
      log(`backup one tenant ${percentile(backups, 50).toFixed(1)} ms (p50)`);
      write();
    }
    if (STEPS.has("size")) {
      const sizes: number[] = [];
      for (let trial = 0; trial < 20; trial++) {
        const started = now();
        await reader.tenants.size(sampled[trial % SAMPLES]!);
        sizes.push(msSince(started));
      }
      result.size = summary(sizes);
      log(`size() of one tenant ${percentile(sizes, 50).toFixed(1)} ms (p50)`);
      write();
    }
    // 6. Listing every tenant.
    if (STEPS.has("list")) {
      const listing = async (limit: number) => {
        const started = now();
        let cursor: string | null = null;
        let pages = 0;
        let seen = 0;
        const pageMs: number[] = [];
        do {
          const pageStart = now();
          const page = await reader.tenants.list({ limit, cursor });
          pageMs.push(msSince(pageStart));
          pages++;
          seen += page.items.length;
          cursor = page.nextCursor;
        } while (cursor);
        if (seen !== TENANTS) throw new Error(`list saw ${seen} tenants of ${TENANTS}`);
        return {
          limit,
          pages,
          ms: round(msSince(started), 1),
          firstPageMs: round(pageMs[0] ?? 0),
          middlePageMs: round(pageMs[Math.floor(pageMs.length / 2)] ?? 0),
          lastPageMs: round(pageMs[pageMs.length - 1] ?? 0),
          perPage: summary(pageMs),
        };
      };
      result.list = [await listing(1000), await listing(100)];
      const countStart = now();
      await reader.tenants.count();
      result.count = { ms: round(msSince(countStart), 1) };
      log(
        `list: pages of 1000 ${(result.list as Array<{ ms: number }>)[0]?.ms} ms in all, pages of 100 ` +
          `${(result.list as Array<{ ms: number }>)[1]?.ms} ms in all`,
      );
      write();
    }
    await reader.close();

    if (STEPS.has("pgdump")) {
      const oneSchema = schemaOfKey(sampled[0]!);
      const schemaDumps: Array<{ ms: number; bytes: number }> = [];
      for (let trial = 0; trial < 3; trial++) {
        const file = join(tmp, `one-${trial}.dump`);
        const dump = await dumpSchemas(db.url, file, `"${oneSchema}"`);
        schemaDumps.push({ ms: round(dump.ms, 1), bytes: statSync(file).size });
      }
      const capacity =
        Number(settings.max_locks_per_transaction) *
        (Number(settings.max_connections) + Number(settings.max_prepared_transactions));
      const tables = Number(counts.user_tables);
      const single = args["full-dump"] || tables <= capacity * 0.4;
      const fullDump: Record<string, unknown> = {
        tablesToLock: tables,
        lockTableSlots: capacity,
        maxLocksPerTransactionNeeded: Math.ceil(
          (tables * 1.25) /
            (Number(settings.max_connections) + Number(settings.max_prepared_transactions)),
        ),
      };
      if (single) {
        const file = join(tmp, "all.dump");
        const dump = await run("pg_dump", [`--dbname=${db.url}`, "-Fc", "-f", file]);
        Object.assign(fullDump, {
          parts: 1,
          ms: round(dump.ms, 1),
          exitCode: dump.code,
          bytes: dump.code === 0 ? statSync(file).size : null,
          stderr: dump.code === 0 ? undefined : dump.stderr.trim(),
        });
      } else {
        // pg_dump locks every table it dumps in one transaction: split by schema name so each part
        // takes at most ~500 tenants' worth of the server's shared lock table.
        const patterns = ["tenantbase*"];
        for (let first = 0; first < TENANTS; first += 500) {
          const thousands = String(Math.floor(first / 1000)).padStart(2, "0");
          patterns.push(`t-tenant${thousands}${first % 1000 < 500 ? "[0-4]" : "[5-9]"}*`);
        }
        let ms = 0;
        let bytes = 0;
        for (const [i, pattern] of patterns.entries()) {
          const file = join(tmp, `part-${i}.dump`);
          const dump = await dumpSchemas(db.url, file, pattern);
          ms += dump.ms;
          bytes += statSync(file).size;
          rmSync(file);
        }
        Object.assign(fullDump, {
          parts: patterns.length,
          reason: `${tables} tables to lock in one transaction; the server's lock table has ${capacity} slots (max_locks_per_transaction x (max_connections + max_prepared_transactions))`,
          ms: round(ms, 1),
          msPerPart: round(ms / patterns.length, 1),
          bytes,
        });
      }
      result.backup = {
        ...(result.backup as Record<string, unknown> | undefined),
        pgDumpOneSchema: {
          ...summary(schemaDumps.map((d) => d.ms)),
          bytes: schemaDumps[0]?.bytes,
        },
        pgDumpWholeDatabase: fullDump,
      };
      log(
        `pg_dump -n one schema ${percentile(
          schemaDumps.map((d) => d.ms),
          50,
        ).toFixed(0)} ms; pg_dump all ${fullDump.ms} ms in ${fullDump.parts} part(s)`,
      );
      write();
    }
    await recycled;
  } finally {
    // close() twice is harmless: the ones closed above return at once.
    for (const hub of opened) await hub.close().catch(() => {});
    rmSync(tmp, { recursive: true, force: true });
    if (!args.keep) {
      const started = now();
      await db.drop();
      result.dropDatabaseMs = round(msSince(started), 1);
    } else {
      log(`kept database ${db.name}`);
    }
    result.finishedAt = new Date().toISOString();
    result.loadAverageAtEnd = loadavg().map((n) => round(n));
    write();
    log(`wrote ${OUT}`);
  }
}

await main();
