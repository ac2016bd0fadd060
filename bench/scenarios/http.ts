/**
 * http-read / http-write: the records API over loopback, autocannon in a
 * child process (keep-alive, 50 connections), tenants picked by Zipf
 * (s = 1.1), 100 records each. Tenantbase (a database per tenant) against the
 * same server over one shared database with a tenant column, interleaved
 * round by round; and against the naive open-per-request server.
 */
import { join } from "node:path";
import {
  ADMIN_TOKEN,
  type BenchServer,
  SHARED_KEY,
  startNaiveServer,
  startSharedServer,
  startTenantbaseServer,
} from "../baselines/servers.js";
import { type Scenario, settle } from "../lib/context.js";
import { httpComparisonMetrics } from "../lib/http-metrics.js";
import { startLoadGenerator } from "../lib/load.js";
import { benchTenantKey, type LoadPlan, type LoadResult } from "../lib/load-plan.js";
import { type Metric, metric } from "../lib/report.js";
import { interleave, median } from "../lib/stats.js";

const ROWS = 100;

export const httpReadWrite: Scenario = {
  name: "http",
  async run(ctx) {
    const tenants = ctx.quick ? 300 : 10_000;
    const seconds = ctx.quick ? 1 : 3;
    const rounds = ctx.quick ? 2 : 3;
    const warmupSeconds = ctx.quick ? 1 : 2;
    const load = await startLoadGenerator();
    const servers: BenchServer[] = [];
    try {
      const tenantbase = await startTenantbaseServer(join(ctx.dir, "tb"), tenants, ROWS, ctx.log);
      servers.push(tenantbase);
      const shared = await startSharedServer(join(ctx.dir, "shared"), tenants, ROWS, ctx.log);
      servers.push(shared);
      const naive = await startNaiveServer(tenantbase.hub!);
      servers.push(naive);

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
        tenants,
        rowsPerTenant: ROWS,
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

      // A long-running server's steady state: the hottest tenants (up to maxOpen) are open.
      for (let t = 0; t < Math.min(tenants, 1000); t++) {
        await tenantbase.hub!.tenant(benchTenantKey(t));
      }
      const metrics: Metric[] = [];
      for (const kind of ["read", "write"] as const) {
        const name = `http-${kind}`;
        ctx.log(`${name}: warm-up`);
        await checked(plan(tenantbase, kind, warmupSeconds, 1), `${name} tenantbase warm-up`);
        await checked(plan(shared, kind, warmupSeconds, 1), `${name} shared warm-up`);
        const wakesBefore = tenantbase.hub!.stats().wakes;
        const pairs = await interleave(
          rounds,
          (round) => checked(plan(tenantbase, kind, seconds, 100 + round), `${name} tenantbase`),
          (round) => checked(plan(shared, kind, seconds, 100 + round), `${name} shared`),
        );
        const wakes = tenantbase.hub!.stats().wakes - wakesBefore;
        const tbRequests = pairs.reduce((sum, p) => sum + p.a.total, 0);
        for (const p of pairs) {
          ctx.log(
            `${name}: tenantbase ${p.a.requestsPerSecond.toFixed(0)} req/s p99 ${p.a.latencyP99Ms} ms; shared ${p.b.requestsPerSecond.toFixed(0)} req/s p99 ${p.b.latencyP99Ms} ms`,
          );
        }
        metrics.push(
          ...httpComparisonMetrics(name, pairs, {
            baselineName: "shared db",
            sizes: `${tenants} tenants x ${ROWS} records, Zipf s=1.1, 50 connections, ${rounds} x ${seconds} s interleaved`,
            throughputNotes: `${wakes} tenant wakes in ${tbRequests} requests`,
          }),
        );
        ctx.log(`${name}: naive per-request open`);
        await checked(plan(naive, kind, warmupSeconds, 1), `${name} naive warm-up`);
        const naivePairs = await interleave(
          Math.max(1, rounds - 1),
          (round) => checked(plan(tenantbase, kind, seconds, 200 + round), `${name} tenantbase`),
          (round) => checked(plan(naive, kind, seconds, 200 + round), `${name} naive`),
        );
        metrics.push(
          metric({
            scenario: name,
            name: "throughput vs naive",
            value: median(naivePairs.map((p) => p.a.requestsPerSecond)),
            unit: "req/s",
            baseline: median(naivePairs.map((p) => p.b.requestsPerSecond)),
            baselineName: "naive open per request",
            ratio: median(naivePairs.map((p) => p.a.requestsPerSecond / p.b.requestsPerSecond)),
            notes: `informational; naive p99 ${median(naivePairs.map((p) => p.b.latencyP99Ms))} ms`,
          }),
        );
      }
      return metrics;
    } finally {
      load.close();
      for (const server of servers.reverse()) await server.close();
    }
  },
};
