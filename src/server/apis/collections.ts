/**
 * Collections, superusers only: GET/POST /api/collections,
 * GET/PATCH/DELETE /api/collections/:name (name or id). A definition is
 * global; each schema change becomes a tenant migration (see src/collections).
 */
import type { Hono } from "hono";
import { readJsonObject } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { badRequest } from "../errors.js";
import { requireSuperuser } from "../middleware/auth/index.js";
import { positiveInteger } from "../query.js";
import { DEFAULT_PER_PAGE, MAX_PER_PAGE } from "../schemas.js";

export function registerCollections(app: Hono<AppEnv>, ctx: ServerContext): void {
  app.get("/api/collections", requireSuperuser(), (c) => {
    const page = positiveInteger(c.req.query("page"), 1, Number.MAX_SAFE_INTEGER);
    const perPage = positiveInteger(c.req.query("perPage"), DEFAULT_PER_PAGE, MAX_PER_PAGE);
    if (page === undefined || perPage === undefined) {
      throw badRequest("page must be 1 or more and perPage from 1 to 1000.");
    }
    const all = ctx.collections.list();
    return c.json({
      page,
      perPage,
      totalItems: all.length,
      totalPages: Math.ceil(all.length / perPage),
      items: all.slice((page - 1) * perPage, page * perPage).map((col) => col.toJSON()),
    });
  });

  app.post("/api/collections", requireSuperuser(), async (c) => {
    const collection = await ctx.collections.create(await readJsonObject(c));
    return c.json(collection.toJSON(), 200);
  });

  app.get("/api/collections/:name", requireSuperuser(), (c) =>
    c.json(ctx.collections.require(c.req.param("name")).toJSON()),
  );

  app.patch("/api/collections/:name", requireSuperuser(), async (c) => {
    const collection = await ctx.collections.update(c.req.param("name"), await readJsonObject(c));
    return c.json(collection.toJSON());
  });

  app.delete("/api/collections/:name", requireSuperuser(), async (c) => {
    await ctx.collections.delete(c.req.param("name"));
    return c.body(null, 204);
  });
}
