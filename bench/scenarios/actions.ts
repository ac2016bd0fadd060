/**
 * actions: the company example's actions over HTTP (POST /api/actions/:name,
 * superuser with x-dbname), tenants picked by Zipf, autocannon in a child
 * process: one read action (getStats) and one write action (addEmployee).
 * No baseline: these are the numbers a user of the example would see.
 * Runs only when examples/company/definition.ts exists and the server
 * registers the actions API (both were built alongside this suite).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pino } from "pino";
import { createTenantbase, sqlite, type Tenantbase } from "../../src/index.js";
import { startServer } from "../../src/server/index.js";
import { ADMIN_TOKEN } from "../baselines/servers.js";
import { type Scenario, settle } from "../lib/context.js";
import { startLoadGenerator } from "../lib/load.js";
import { benchTenantKey, type LoadPlan } from "../lib/load-plan.js";
import { type Metric, metric } from "../lib/report.js";
import { median } from "../lib/stats.js";

const DEFINITION = fileURLToPath(new URL("../../examples/company/definition.ts", import.meta.url));
const APP = fileURLToPath(new URL("../../src/server/app.ts", import.meta.url));

type Definition = Record<string, unknown> & { actions?: Record<string, unknown> };

async function loadDefinition(): Promise<Definition> {
  const mod = (await import(pathToFileURL(DEFINITION).href)) as Record<string, unknown>;
  // A row cap the benchmark's writes never reach.
  const factory = mod.companyDefinition as ((o: { maxRows: number }) => Definition) | undefined;
  return factory ? factory({ maxRows: 1_000_000_000 }) : (mod.default as Definition);
}

async function post(url: string, key: string, name: string, input: unknown): Promise<void> {
  const response = await fetch(`${url}/api/actions/${name}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      "x-dbname": key,
      "content-type": "application/json",
    },
    body: JSON.stringify(input),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${name} on ${key}: ${response.status} ${text}`);
}

export const actions: Scenario = {
  name: "actions",
  async unavailable() {
    if (!existsSync(DEFINITION)) return "examples/company/definition.ts does not exist yet";
    if (!/registerActions\(/.test(readFileSync(APP, "utf8"))) {
      return "the server does not serve POST /api/actions/:name yet";
    }
    try {
      const definition = await loadDefinition();
      for (const name of ["addEmployee", "getStats"]) {
        if (!definition.actions?.[name]) return `the company definition has no ${name} action`;
      }
    } catch (error) {
      return `examples/company/definition.ts does not load: ${(error as Error).message}`;
    }
    return null;
  },
  async run(ctx) {
    const tenants = ctx.quick ? 50 : 1000;
    const seconds = ctx.quick ? 1 : 3;
    const rounds = ctx.quick ? 2 : 3;
    const definition = await loadDefinition();
    const { demo: _demo, ...options } = definition;
    const hub: Tenantbase = createTenantbase({
      ...(options as object),
      driver: sqlite({ dir: join(ctx.dir, "data") }),
      pool: { maxOpen: 1000 },
    });
    const server = await startServer({
      hub,
      adminToken: ADMIN_TOKEN,
      jwtSecret: "bench-jwt-secret-0123456789abcdef",
      logger: pino({ level: "silent" }),
      port: 0,
      host: "127.0.0.1",
    });
    const load = await startLoadGenerator();
    try {
      const started = Date.now();
      for (let t = 0; t < tenants; t++) await hub.tenants.create(benchTenantKey(t));
      // A few rows per company, through the actions themselves.
      const queue = Array.from({ length: tenants }, (_, t) => t);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
            const key = benchTenantKey(t);
            for (let i = 0; i < 5; i++) {
              await post(server.url, key, "addEmployee", {
                name: `Employee ${i}`,
                role: "Engineer",
              });
            }
            for (const status of ["planning", "active", "done"]) {
              await post(server.url, key, "addProject", { name: `Project ${status}`, status });
            }
          }
        }),
      );
      ctx.log(
        `${tenants} companies with 5 employees and 3 projects in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      const plan = (
        name: string,
        input: unknown,
        durationSeconds: number,
        seed: number,
      ): LoadPlan => ({
        url: server.url,
        kind: "action",
        action: { name, input },
        layout: "per-tenant",
        tenants,
        rowsPerTenant: 1,
        zipfS: 1.1,
        seed,
        durationSeconds,
        connections: 50,
        adminToken: ADMIN_TOKEN,
        collection: "",
      });
      const metrics: Metric[] = [];
      for (const [name, input] of [
        ["getStats", {}],
        ["addEmployee", { name: "Benchmark Hire", role: "Engineer" }],
      ] as const) {
        await load.run(plan(name, input, 1, 1));
        const results = [];
        for (let round = 0; round < rounds; round++) {
          await settle();
          const result = await load.run(plan(name, input, seconds, 10 + round));
          if (result.non2xx > 0 || result.errors > 0) {
            throw new Error(`${name}: ${result.non2xx} non-2xx and ${result.errors} errors`);
          }
          results.push(result);
        }
        const sizes = `${tenants} companies, Zipf s=1.1, 50 connections, ${rounds} x ${seconds} s`;
        metrics.push(
          metric({
            scenario: "actions",
            name: `${name} throughput`,
            value: median(results.map((r) => r.requestsPerSecond)),
            unit: "req/s",
            notes: `${sizes}; p50 ${median(results.map((r) => r.latencyP50Ms))} ms`,
          }),
          metric({
            scenario: "actions",
            name: `${name} latency p99`,
            value: median(results.map((r) => r.latencyP99Ms)),
            unit: "ms",
          }),
        );
      }
      return metrics;
    } finally {
      load.close();
      await server.close();
      await hub.close();
    }
  },
};
