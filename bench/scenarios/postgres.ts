/**
 * postgres: scenarios http-read/-write, provision and fleet-migrate on the
 * PostgreSQL driver (one schema per tenant), each run in throwaway databases
 * `tb_bench_<random>` on the local server (started if down), dropped after.
 *
 * - pg-http-read / pg-http-write: the records API as in the http scenario
 *   (autocannon in a child process, 50 connections, Zipf s = 1.1, 100 records
 *   per tenant), N tenant schemas against the same server over one schema
 *   whose posts table has a tenant column + index, interleaved round by round.
 * - pg-provision: `hub.tenants.create(key)` one after another (and, for
 *   context, 16 at once) at schema version 1 (the items table).
 * - pg-fleet-migrate: `hub.migrations.run()` with its defaults adding a column
 *   with an index to the tenants just provisioned (10 rows each), against a
 *   sequential loop of Kysely Migrators, one per schema; rolled back
 *   (unmeasured) between rounds.
 */

import { postgres as postgresDriver } from "../../src/drivers/postgres/index.js";
import { createTenantbase, type Migration, type Tenantbase } from "../../src/index.js";
import { makeKyselySchemaFleet } from "../baselines/kysely-migrator-postgres.js";
import {
  inLanes,
  PG_POOL_MAX,
  SHARED_ALIASES,
  startPostgresSharedServer,
  startPostgresTenantServer,
} from "../baselines/postgres-servers.js";
import { ADMIN_TOKEN, type BenchServer, SHARED_KEY } from "../baselines/servers.js";
import { type BenchContext, type Scenario, settle } from "../lib/context.js";
import { ITEMS_V1, ITEMS_V2 } from "../lib/fixtures.js";
import { httpComparisonMetrics } from "../lib/http-metrics.js";
import { startLoadGenerator } from "../lib/load.js";
import type { LoadPlan, LoadResult } from "../lib/load-plan.js";
import {
  type BenchDatabase,
  benchDatabase,
  ensurePostgres,
  postgresVersion,
} from "../lib/postgres.js";
import { type Metric, metric } from "../lib/report.js";
import { interleave, median, msSince, percentile } from "../lib/stats.js";

const HTTP_ROWS = 100;
const FLEET_ROWS = 10;

function fleetHub(url: string, migrations: Migration[]): Tenantbase {
  return createTenantbase({
    driver: postgresDriver({ url, max: PG_POOL_MAX }),
    migrations,
    pool: { maxOpen: 1000, idleTimeoutMs: 0 },
  });
}

async function httpMetrics(
  ctx: BenchContext,
  tbUrl: string,
  sharedUrl: string,
  version: string,
): Promise<Metric[]> {
  const tenants = ctx.quick ? 100 : 1000;
  const seconds = ctx.quick ? 1 : 3;
  const rounds = ctx.quick ? 2 : 3;
  const warmupSeconds = ctx.quick ? 1 : 2;
  const load = await startLoadGenerator();
  const servers: BenchServer[] = [];
  try {
    const tenantbase = await startPostgresTenantServer(tbUrl, tenants, HTTP_ROWS, ctx.log);
    servers.push(tenantbase);
    const shared = await startPostgresSharedServer(sharedUrl, tenants, HTTP_ROWS, ctx.log);
    servers.push(shared);
    const plan = (
      server: BenchServer,
      kind: LoadPlan["kind"],
      durationSeconds: number,
      seed: number,
    ): LoadPlan => ({
      url: server.url,
      kind,
      layout: server === shared ? "shared" : "per-tenant",
      sharedKey: SHARED_KEY,
      sharedAliases: SHARED_ALIASES,
      tenants,
      rowsPerTenant: HTTP_ROWS,
      zipfS: 1.1,
      seed,
      durationSeconds,
      connections: 50,
      adminToken: ADMIN_TOKEN,
      collection: "posts",
    });
    const checked = async (p: LoadPlan, label: string): Promise<LoadResult> => {
      await settle();
      const result = await load.run(p);
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(
          `${label}: ${result.non2xx} non-2xx responses and ${result.errors} errors of ${result.total}`,
        );
      }
      return result;
    };
    const metrics: Metric[] = [];
    for (const kind of ["read", "write"] as const) {
      const name = `pg-http-${kind}`;
      ctx.log(`${name}: warm-up`);
      await checked(plan(tenantbase, kind, warmupSeconds, 1), `${name} tenantbase warm-up`);
      await checked(plan(shared, kind, warmupSeconds, 1), `${name} shared warm-up`);
      const pairs = await interleave(
        rounds,
        (round) => checked(plan(tenantbase, kind, seconds, 100 + round), `${name} tenantbase`),
        (round) => checked(plan(shared, kind, seconds, 100 + round), `${name} shared`),
      );
      for (const p of pairs) {
        ctx.log(
          `${name}: tenantbase ${p.a.requestsPerSecond.toFixed(0)} req/s p99 ${p.a.latencyP99Ms} ms; shared ${p.b.requestsPerSecond.toFixed(0)} req/s p99 ${p.b.latencyP99Ms} ms`,
        );
      }
      metrics.push(
        ...httpComparisonMetrics(name, pairs, {
          baselineName: "shared table",
          sizes: `PostgreSQL ${version}, ${tenants} tenant schemas x ${HTTP_ROWS} records vs one shared table (${tenants * HTTP_ROWS} rows, index on (org, id)), pool ${PG_POOL_MAX} connections each, Zipf s=1.1, 50 connections, ${rounds} x ${seconds} s interleaved`,
        }),
      );
    }
    return metrics;
  } finally {
    load.close();
    for (const server of servers.reverse()) await server.close();
  }
}

/** Provisions the tenants (measured), then migrates them as a fleet (measured) against Kysely. */
async function provisionAndFleetMetrics(
  ctx: BenchContext,
  url: string,
  kyselyUrl: string,
  version: string,
): Promise<Metric[]> {
  const perRound = ctx.quick ? 50 : 400;
  const provisionRounds = 2;
  const concurrent = ctx.quick ? 50 : 200;
  const warm = ctx.quick ? 10 : 20;
  const baselineSchemas = ctx.quick ? 30 : 100;
  const fleetRounds = ctx.quick ? 1 : 2;
  const keys: string[] = [];
  const metrics: Metric[] = [];

  const provisioning = fleetHub(url, [ITEMS_V1]);
  try {
    await provisioning.ready();
    // Warm-up: builds the template and the spares, JIT.
    for (let i = 0; i < warm; i++) {
      keys.push(`warm-${i}`);
      await provisioning.tenants.create(`warm-${i}`);
    }
    const rates: number[] = [];
    const latencies: number[] = [];
    for (let round = 0; round < provisionRounds; round++) {
      await settle();
      // Let the spares refill (the driver refills after 100 ms of quiet), as between bursts.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const started = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) {
        const key = `round-${round}-tenant-${i}`;
        const one = process.hrtime.bigint();
        await provisioning.tenants.create(key);
        latencies.push(msSince(one));
        keys.push(key);
      }
      rates.push(perRound / (msSince(started) / 1000));
    }
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const startedConcurrent = process.hrtime.bigint();
    await inLanes(concurrent, 16, async (i) => {
      const key = `concurrent-tenant-${i}`;
      await provisioning.tenants.create(key);
      keys.push(key);
    });
    const concurrentRate = concurrent / (msSince(startedConcurrent) / 1000);
    const version1 = (await provisioning.tenants.get("round-0-tenant-0")).schemaVersion;
    if (version1 !== 1) throw new Error(`provisioned at version ${version1}, expected 1`);
    metrics.push(
      metric({
        scenario: "pg-provision",
        name: "tenants created per second",
        value: median(rates),
        unit: "tenants/s",
        target: { on: "value", op: ">=", threshold: 1000 },
        notes: `PostgreSQL ${version}; ${provisionRounds} rounds of ${perRound} sequential creates (a schema with the items table, its migration tables and the catalog row each; 8 spares refilled between rounds); per-round ${rates.map((r) => r.toFixed(0)).join(", ")}`,
      }),
      metric({
        scenario: "pg-provision",
        name: "create latency p99",
        value: percentile(latencies, 99),
        unit: "ms",
        notes: `p50 ${percentile(latencies, 50).toFixed(2)} ms`,
      }),
      metric({
        scenario: "pg-provision",
        name: "tenants created per second, 16 at once",
        value: concurrentRate,
        unit: "tenants/s",
        notes: `informational; ${concurrent} creates, 16 in flight, tenant pool ${PG_POOL_MAX} connections`,
      }),
    );
    // Setup, not measured: 10 items in every tenant.
    await inLanes(keys.length, 8, async (i) => {
      const handle = await provisioning.tenant(keys[i]!);
      await handle.db
        .insertInto("items")
        .values(
          Array.from({ length: FLEET_ROWS }, (_, j) => ({
            id: j + 1,
            name: `item ${j + 1} of ${keys[i]}`,
            value: j * 7,
          })),
        )
        .execute();
    });
  } finally {
    await provisioning.close();
  }

  const tenants = keys.length;
  ctx.log(`pg-fleet-migrate: ${tenants} tenant schemas; Kysely baseline over ${baselineSchemas}`);
  const kysely = await makeKyselySchemaFleet(kyselyUrl, baselineSchemas, FLEET_ROWS);
  const hub = fleetHub(url, [ITEMS_V1, ITEMS_V2]);
  try {
    await hub.ready();
    const notes: string[] = [];
    const pairs = await interleave(
      fleetRounds,
      async () => {
        await settle();
        const started = process.hrtime.bigint();
        const run = await hub.migrations.run();
        const ms = msSince(started);
        if (run.status !== "completed" || run.counts.migrated !== tenants) {
          throw new Error(`fleet run ended ${run.status}: ${JSON.stringify(run.counts)}`);
        }
        notes.push(`${(ms / 1000).toFixed(2)} s`);
        const back = await hub.migrations.rollback(run.id);
        if (back.counts.rolledBack !== tenants) {
          throw new Error(`rollback: ${JSON.stringify(back.counts)}`);
        }
        return tenants / (ms / 1000);
      },
      async () => {
        await settle();
        const started = process.hrtime.bigint();
        await kysely.migrate();
        const ms = msSince(started);
        await kysely.revert();
        return baselineSchemas / (ms / 1000);
      },
    );
    const ratios = pairs.map((p) => p.a / p.b);
    metrics.push(
      metric({
        scenario: "pg-fleet-migrate",
        name: "tenants migrated per second",
        value: median(pairs.map((p) => p.a)),
        unit: "tenants/s",
        target: { on: "value", op: ">=", threshold: 2000 },
        notes: `PostgreSQL ${version}; ${tenants} tenant schemas (${FLEET_ROWS} rows each), add column + index, hub.migrations.run() with defaults (in this process, 8 tenants at once, pool ${PG_POOL_MAX}); runs took ${notes.join(", ")}`,
      }),
      metric({
        scenario: "pg-fleet-migrate",
        name: "vs sequential Kysely Migrator loop",
        value: median(pairs.map((p) => p.a)),
        unit: "tenants/s",
        baseline: median(pairs.map((p) => p.b)),
        baselineName: "Kysely Migrator loop",
        ratio: median(ratios),
        target: { on: "ratio", op: ">=", threshold: 10 },
        notes: `baseline: one Migrator per schema (withSchema + migrationTableSchema) over ${baselineSchemas} schemas, one shared pool of ${PG_POOL_MAX}; per-round ratios ${ratios.map((r) => r.toFixed(1)).join(", ")}`,
      }),
    );
    return metrics;
  } finally {
    await hub.close();
    await kysely.close();
  }
}

export const postgresScenario: Scenario = {
  name: "postgres",
  async unavailable() {
    try {
      await ensurePostgres();
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  },
  async run(ctx) {
    const version = await postgresVersion();
    const databases: BenchDatabase[] = [];
    const fresh = async () => {
      const db = await benchDatabase();
      databases.push(db);
      return db.url;
    };
    try {
      const http = await httpMetrics(ctx, await fresh(), await fresh(), version);
      const fleet = await provisionAndFleetMetrics(ctx, await fresh(), await fresh(), version);
      return [...http, ...fleet];
    } finally {
      for (const db of databases) await db.drop().catch(() => {});
    }
  },
};
