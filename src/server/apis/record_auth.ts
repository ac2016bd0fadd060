/**
 * Tenant users' authentication, PocketBase's API:
 * POST /api/collections/:collection/auth-with-password {identity, password}
 *      (tenant from x-dbname, or from the caller's token) → { token, record }
 * POST /api/collections/:collection/auth-refresh (a valid user token) → { token, record }
 * GET  /api/collections/:collection/auth-methods
 */
import type { Context, Hono } from "hono";
import type { Collection } from "../../collections/collection.js";
import { readBody } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { badRequest, forbidden, notFound, unauthorized } from "../errors.js";
import { tenant } from "../middleware/tenant/index.js";
import { authWithPasswordSchema } from "../schemas.js";

function authCollection(c: Context<AppEnv>, ctx: ServerContext): Collection {
  const collection = ctx.collections.get(c.req.param("collection")!);
  if (!collection?.isAuth) throw notFound("Missing or invalid auth collection context.");
  return collection;
}

export function registerRecordAuth(app: Hono<AppEnv>, ctx: ServerContext): void {
  const base = "/api/collections/:collection";
  const inTenant = tenant(ctx);

  app.get(`${base}/auth-methods`, (c) => {
    authCollection(c, ctx);
    return c.json({
      password: { enabled: true, identityFields: ["email"] },
      oauth2: { enabled: false, providers: [] },
      mfa: { enabled: false, duration: 0 },
      otp: { enabled: false, duration: 0 },
    });
  });

  app.post(`${base}/auth-with-password`, inTenant, async (c) => {
    const collection = authCollection(c, ctx);
    const body = await readBody(
      c,
      authWithPasswordSchema,
      "An error occurred while validating the submitted data.",
    );
    const { key, handle } = c.get("tenant");
    const found = await ctx.records.authenticate(handle, collection, body.identity, body.password);
    if (!found) throw badRequest("Failed to authenticate.");
    const token = await ctx.signer.sign({
      sub: found.row.id as string,
      tenant: key,
      collection: collection.name,
      collectionId: collection.id,
      tokenKey: String(found.row.tokenKey),
    });
    return c.json({ token, record: found.record });
  });

  app.post(`${base}/auth-refresh`, inTenant, async (c) => {
    const collection = authCollection(c, ctx);
    const principal = c.get("principal");
    if (principal.kind !== "record") {
      throw unauthorized("The request requires valid record authorization token.");
    }
    if (principal.collectionId !== collection.id) {
      throw forbidden("The token belongs to a record of another collection.");
    }
    const { key, handle } = c.get("tenant");
    const found = await ctx.records.findAuthRecord(handle, collection, principal.id);
    if (!found) throw unauthorized("The request requires valid record authorization token.");
    const token = await ctx.signer.sign({
      sub: principal.id,
      tenant: key,
      collection: collection.name,
      collectionId: collection.id,
      tokenKey: String(found.row.tokenKey),
    });
    return c.json({ token, record: found.record });
  });
}
