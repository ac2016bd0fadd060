/**
 * Databases (tenants), superusers only:
 * GET /api/databases, POST /api/databases {name}, DELETE /api/databases/:name
 * (or DELETE /api/databases?name= for names a URL path cannot hold: ".", "..").
 * Names follow the engine's tenant key rules; a delete keeps a final copy.
 */
import type { Hono } from "hono";
import type { TenantInfo } from "../../core/catalog.js";
import { readBody } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { badRequest } from "../errors.js";
import { requireSuperuser } from "../middleware/auth/index.js";
import { databaseCreateSchema } from "../schemas.js";

async function databaseJson(ctx: ServerContext, info: TenantInfo) {
  return {
    name: info.key,
    status: info.status,
    createdAt: info.createdAt.toISOString(),
    sizeBytes: await ctx.hub.driver.size(info.storageName).catch(() => 0),
    schemaVersion: info.schemaVersion,
  };
}

export function registerDatabases(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/api/databases", requireSuperuser(), async (c) => {
    const out = [];
    let cursor: string | null = null;
    do {
      const page = await ctx.hub.tenants.list({ limit: 1000, cursor });
      for (const info of page.items) out.push(await databaseJson(ctx, info));
      cursor = page.nextCursor;
    } while (cursor);
    return c.json(out);
  });

  app.post("/api/databases", requireSuperuser(), async (c) => {
    const body = await readBody(c, databaseCreateSchema, "Failed to create the database.");
    const info = await ctx.hub.tenants.create(
      body.name,
      body.metadata ? { metadata: body.metadata } : {},
    );
    return c.json(await databaseJson(ctx, info), 200);
  });

  app.delete("/api/databases/:name", requireSuperuser(), async (c) => {
    await ctx.hub.tenants.delete(c.req.param("name"));
    return c.body(null, 204);
  });

  // URLs cannot carry "." or ".." as a path segment: such names go in the query.
  app.delete("/api/databases", requireSuperuser(), async (c) => {
    const name = c.req.query("name");
    if (name === undefined) throw badRequest("Name the database: DELETE /api/databases/:name.");
    await ctx.hub.tenants.delete(name);
    return c.body(null, 204);
  });
}
