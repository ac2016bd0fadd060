/**
 * Establishes who is calling, from the Authorization header only:
 * `Bearer <token>` or the bare token (as the PocketBase SDK sends it).
 * The admin token makes a superuser; a JWT is verified against our secret
 * or the external provider its issuer names. A credential that does not
 * verify (bad signature, `alg: none`, expired, wrong audience) is a 401,
 * never a silent fall back to anonymous.
 */

import type { MiddlewareHandler } from "hono";
import { decodeJwt } from "jose";
import { ANONYMOUS_PRINCIPAL, type Principal, SUPERUSER_PRINCIPAL } from "../../auth/principal.js";
import { secretsEqual, TOKEN_ISSUER } from "../../auth/tokens.js";
import type { ServerContext } from "../../context.js";
import type { AppEnv } from "../../env.js";
import { forbidden, unauthorized } from "../../errors.js";

const BEARER = /^Bearer\s+/i;
const MAX_TOKEN_LENGTH = 8192;

export async function principalOf(
  header: string | undefined,
  ctx: ServerContext,
): Promise<Principal> {
  if (header === undefined) return ANONYMOUS_PRINCIPAL;
  const token = header.replace(BEARER, "").trim();
  if (token === "" || token.length > MAX_TOKEN_LENGTH) throw unauthorized();
  if (secretsEqual(token, ctx.adminToken)) return SUPERUSER_PRINCIPAL;
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    throw unauthorized("Invalid or expired token.");
  }
  try {
    if (issuer === TOKEN_ISSUER) {
      const claims = await ctx.signer.verify(token);
      return {
        kind: "record",
        tenant: claims.tenant,
        collectionId: claims.collectionId,
        id: claims.sub,
        tokenKeyHash: claims.tk,
      };
    }
    const provider = ctx.providers.find((p) => p.issuer === issuer);
    if (provider) {
      const identity = await provider.verify(token);
      return { kind: "external", ...identity };
    }
  } catch (error) {
    ctx.logger.debug({ err: (error as Error).message }, "token rejected");
  }
  throw unauthorized("Invalid or expired token.");
}

export function auth(ctx: ServerContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("principal", await principalOf(c.req.header("authorization"), ctx));
    await next();
  };
}

/** Superusers only (databases and collections): 401 without a credential, 403 with another. */
export function requireSuperuser(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (principal.kind === "anonymous") {
      throw unauthorized("The request requires valid superuser authorization token.");
    }
    if (principal.kind !== "superuser") {
      throw forbidden("The authorized user is not allowed to perform this action.");
    }
    await next();
  };
}
