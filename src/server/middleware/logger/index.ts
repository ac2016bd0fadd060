/** One log line per request: method, path, status, time taken, tenant. */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "pino";
import type { AppEnv } from "../../env.js";

export function requestLogger(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    c.set("log", logger);
    try {
      await next();
    } finally {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const tenant = c.get("tenant")?.key;
      // Paths only: query strings may carry filter values.
      logger.info(
        {
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms,
          ...(tenant ? { tenant } : {}),
        },
        "request",
      );
    }
  };
}
