/**
 * GET /api/metrics (superuser): Prometheus text format. Requests per route
 * (see middleware/metrics), the tenant pool (open, waking, waits, wakes,
 * sleeps, evictions), realtime clients, and Node's process metrics.
 */
import type { Hono } from "hono";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { requireSuperuser } from "../middleware/auth/index.js";

let processRegistry: Registry | undefined;

/** Node's own metrics (memory, CPU, event loop): once per process, whatever the number of apps. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: "tenantbase_" });
  }
  return processRegistry;
}

export function registerMetrics(
  app: Hono<AppEnv>,
  ctx: ServerContext,
  registry: Registry,
  realtimeStats: () => object | undefined,
): void {
  const pool = new Gauge({
    name: "tenantbase_pool",
    help: "Tenant pool: open, opening, leased, waiting for a slot; wakes, sleeps, evictions since start",
    labelNames: ["stat"],
    registers: [registry],
    collect() {
      for (const [stat, value] of Object.entries(ctx.hub.stats())) pool.set({ stat }, value);
    },
  });
  const realtime = new Gauge({
    name: "tenantbase_realtime",
    help: "Realtime (SSE): clients, subscriptions, queued messages and bytes, peaks",
    labelNames: ["stat"],
    registers: [registry],
    collect() {
      for (const [stat, value] of Object.entries(realtimeStats() ?? {})) {
        if (typeof value === "number") realtime.set({ stat }, value);
      }
    },
  });
  app.get("/api/metrics", requireSuperuser(), async (c) => {
    const text = await Registry.merge([processMetrics(), registry]).metrics();
    return c.body(text, 200, { "content-type": registry.contentType });
  });
}
