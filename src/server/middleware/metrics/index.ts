/**
 * Request metrics for Prometheus (prom-client): a count and a latency
 * histogram per method, route pattern and status. Route patterns, not
 * paths: tenant keys and record ids never become label values.
 */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { Counter, Histogram, type Registry } from "prom-client";
import type { AppEnv } from "../../env.js";

export function requestMetrics(registry: Registry): MiddlewareHandler<AppEnv> {
  const labelNames = ["method", "route", "status"] as const;
  const requests = new Counter({
    name: "tenantbase_http_requests_total",
    help: "HTTP requests answered",
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "tenantbase_http_request_duration_seconds",
    help: "Time to answer an HTTP request",
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The matched route's pattern ("/api/collections/:collection/records"); "*" when none.
      const labels = {
        method: c.req.method,
        route: routePath(c, -1),
        status: String(c.res.status),
      };
      requests.inc(labels);
      duration.observe(labels, (performance.now() - started) / 1000);
    }
  };
}
