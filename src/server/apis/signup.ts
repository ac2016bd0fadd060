/**
 * Self-service sign-up, for apps where a customer creates its own tenant:
 * POST /api/signup {tenant, email, password, passwordConfirm?, name?}
 *   → 200 { tenant, token, record }: a new tenant, and its first user (an
 *     auth-collection record with the configured role), signed in.
 * Off unless the server is given `signup` options; 404 then, as any unknown
 * route. 409 when the tenant exists, 400 for an invalid tenant key or user.
 */
import type { Hono } from "hono";
import { z } from "zod";
import { SUPERUSER } from "../../collections/rules.js";
import { isTenantbaseError } from "../../core/errors.js";
import { readBody } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { ApiError, badRequest } from "../errors.js";

export interface SignupOptions {
  /** The auth collection the first user is created in. */
  collection: string;
  /** Written to the user's `role` field (the collection must have one). Default: none. */
  role?: string;
}

export const signupSchema = z.strictObject({
  tenant: z.string().min(1, "Cannot be blank."),
  email: z.string().min(1, "Cannot be blank."),
  password: z.string().min(1, "Cannot be blank."),
  passwordConfirm: z.string().optional(),
  name: z.string().max(200).optional(),
});

export function registerSignup(
  app: Hono<AppEnv>,
  ctx: ServerContext,
  options: SignupOptions,
): void {
  app.post("/api/signup", async (c) => {
    const body = await readBody(c, signupSchema, "Failed to sign up.");
    const collection = ctx.collections.get(options.collection);
    if (!collection?.isAuth) {
      throw new ApiError(500, `Sign-up is configured with a missing auth collection.`);
    }
    const { hub } = ctx;
    try {
      await hub.tenants.create(body.tenant, { metadata: { signup: { email: body.email } } });
    } catch (error) {
      if (isTenantbaseError(error) && error.code === "TENANT_EXISTS") {
        throw new ApiError(409, "A tenant with this name exists already.", {
          tenant: { code: "validation_not_unique", message: "Already taken." },
        });
      }
      if (isTenantbaseError(error) && error.code === "INVALID_TENANT_KEY") {
        throw badRequest("Failed to sign up.", {
          tenant: { code: "validation_invalid_tenant", message: error.message },
        });
      }
      throw error;
    }
    const handle = await hub.tenant(body.tenant);
    let created: Record<string, unknown>;
    try {
      created = await ctx.records.create(handle, collection, SUPERUSER, {
        email: body.email,
        password: body.password,
        passwordConfirm: body.passwordConfirm ?? body.password,
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(options.role !== undefined ? { role: options.role } : {}),
      });
    } catch (error) {
      // No tenant without its first user: a bad email or password leaves nothing behind.
      await hub.tenants.delete(body.tenant).catch(() => {});
      throw error;
    }
    const found = await ctx.records.findAuthRecord(handle, collection, String(created.id));
    if (!found) throw new ApiError(500, "The new user could not be read back.");
    const token = await ctx.signer.sign({
      sub: String(created.id),
      tenant: body.tenant,
      collection: collection.name,
      collectionId: collection.id,
      tokenKey: String(found.row.tokenKey),
    });
    return c.json({ tenant: body.tenant, token, record: found.record });
  });
}
