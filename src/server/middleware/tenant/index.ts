/**
 * Chooses the tenant of a tenant-scoped request (DESIGN invariant 6): a
 * superuser names it with `x-dbname`; a tenant user's tenant is the one in
 * its verified token, and an `x-dbname` naming another is a 403; an
 * anonymous caller names it with `x-dbname` and gets only what rules allow
 * anonymous callers. `x-dbname` carries the key's UTF-8 bytes.
 */
import type { MiddlewareHandler } from "hono";
import { fullApiRecord } from "../../../collections/output.js";
import { ANONYMOUS, type Caller, SUPERUSER } from "../../../collections/rules.js";
import { validateTenantKey } from "../../../core/tenant-key.js";
import type { Principal } from "../../auth/principal.js";
import { tokenKeyDigest } from "../../auth/tokens.js";
import type { ServerContext } from "../../context.js";
import type { AppEnv } from "../../env.js";
import { badRequest, forbidden, unauthorized } from "../../errors.js";

export const TENANT_HEADER = "x-dbname";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Header values arrive as latin1 code units; the key is their bytes read as UTF-8. */
export function decodeTenantHeader(value: string): string {
  const bytes = new Uint8Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code > 0xff) throw badRequest("The x-dbname header must carry the tenant key as UTF-8.");
    bytes[i] = code;
  }
  try {
    return validateTenantKey(utf8.decode(bytes));
  } catch (error) {
    if (error instanceof TypeError) {
      throw badRequest("The x-dbname header must carry the tenant key as UTF-8.");
    }
    throw error;
  }
}

function tenantKeyOf(principal: Principal, header: string | undefined): string {
  const named = header === undefined ? undefined : decodeTenantHeader(header);
  if (principal.kind === "record" || principal.kind === "external") {
    if (named !== undefined && named !== principal.tenant) {
      throw forbidden("The x-dbname header names another tenant than your token.");
    }
    return principal.tenant;
  }
  if (named === undefined) {
    throw badRequest("Missing x-dbname header: name the tenant (database) to use.");
  }
  return named;
}

/** Request details rules may read (@request.query/headers/method), computed only if read. */
function requestInfo(c: Parameters<MiddlewareHandler<AppEnv>>[0]): Caller["request"] {
  let query: Record<string, string> | undefined;
  let headers: Record<string, string> | undefined;
  return {
    get query() {
      query ??= c.req.query();
      return query;
    },
    get headers() {
      headers ??= c.req.header();
      return headers;
    },
    method: c.req.method,
    context: "default",
  };
}

export function tenant(ctx: ServerContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    const key = tenantKeyOf(principal, c.req.header(TENANT_HEADER));
    const handle = await ctx.hub.tenant(key);
    const request = requestInfo(c);
    let caller: Caller;
    switch (principal.kind) {
      case "superuser":
        caller = { ...SUPERUSER, request };
        break;
      case "anonymous":
        caller = { ...ANONYMOUS, request };
        break;
      case "external":
        caller = {
          superuser: false,
          auth: { ...principal.claims, id: principal.id, role: principal.role },
          request,
        };
        break;
      case "record": {
        const collection = ctx.collections.get(principal.collectionId);
        const found =
          collection?.isAuth === true
            ? await ctx.records.findAuthRecord(handle, collection, principal.id)
            : undefined;
        if (
          !collection ||
          !found ||
          tokenKeyDigest(String(found.row.tokenKey)) !== principal.tokenKeyHash
        ) {
          throw unauthorized("Invalid or expired token.");
        }
        caller = {
          superuser: false,
          auth: fullApiRecord(collection, found.row),
          record: { collectionId: collection.id, id: principal.id },
          request,
        };
        break;
      }
    }
    c.set("tenant", { key, handle, caller });
    await next();
  };
}
