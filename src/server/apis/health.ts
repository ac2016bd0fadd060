/** GET /api/health: the server answers (it does not wake any tenant). */
import type { Hono } from "hono";
import type { AppEnv } from "../env.js";

export function registerHealth(app: Hono<AppEnv>): void {
  app.get("/api/health", (c) => c.json({ code: 200, message: "API is healthy.", data: {} }));
}
