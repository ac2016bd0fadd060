/**
 * The tenant definition's actions (docs/actions.md):
 * POST /api/actions/:name   JSON input (or no body) → the action's result as JSON
 *
 * The tenant is chosen as for records (x-dbname for a superuser, the token's
 * tenant for its users, 403 when they differ). 404 for an unknown action,
 * 401 without a credential (unless the action is public), 403 for a role
 * the action does not allow, 400 with `data.<field>.code/message` for input
 * its schema rejects.
 */
import type { Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ActionAuth, ActionInfo } from "../../actions/index.js";
import { SUPERUSER_AUTH } from "../../actions/index.js";
import type { Caller } from "../../collections/rules.js";
import { isTenantbaseError } from "../../core/errors.js";
import type { Principal } from "../auth/principal.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { ApiError, badRequest, nestFieldErrors, notFound, unauthorized } from "../errors.js";
import { tenant } from "../middleware/tenant/index.js";

type Problems = Parameters<typeof nestFieldErrors>[0];

/** The statuses an action may refuse with (ActionRejected); anything else is a 400. */
const REJECTED_STATUSES = new Set<ContentfulStatusCode>([400, 403, 404, 409, 422, 429]);

/** The JSON body as the action's input: any JSON value; no body is undefined. */
async function readInput(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (/^multipart\/form-data|^application\/x-www-form-urlencoded/i.test(type)) {
    throw badRequest(
      "Only JSON request bodies are supported: send Content-Type: application/json.",
    );
  }
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(
      `Failed to read the submitted data: invalid JSON (${(error as Error).message}).`,
    );
  }
}

/** The verified caller as actions see it. */
export function actionAuthOf(principal: Principal, caller: Caller): ActionAuth | null {
  switch (principal.kind) {
    case "superuser":
      return SUPERUSER_AUTH;
    case "anonymous":
      return null;
    case "record": {
      const record = caller.auth ?? {};
      return {
        kind: "user",
        id: principal.id,
        role: typeof record.role === "string" ? record.role : null,
        collection: typeof record.collectionName === "string" ? record.collectionName : null,
        data: record,
      };
    }
    case "external":
      return {
        kind: "user",
        id: principal.id,
        role: typeof principal.role === "string" ? principal.role : null,
        collection: null,
        data: principal.claims,
      };
  }
}

/** Engine errors of actions as HTTP answers; anything else goes to the error handler. */
function toApiError(error: unknown): unknown {
  if (!isTenantbaseError(error)) return error;
  const fields = error.details.fields as Problems | undefined;
  switch (error.code) {
    case "ACTION_NOT_FOUND":
      return notFound(error.message);
    case "ACTION_INPUT_INVALID":
      return badRequest(error.message, fields ? nestFieldErrors(fields) : {});
    case "ACTION_AUTH_REQUIRED":
      return unauthorized(error.message);
    case "ACTION_FORBIDDEN":
      return new ApiError(403, error.message);
    case "ACTION_REJECTED": {
      const status = error.details.status as ContentfulStatusCode;
      return new ApiError(
        REJECTED_STATUSES.has(status) ? status : 400,
        error.message,
        fields ? nestFieldErrors(fields) : {},
      );
    }
    default:
      return error;
  }
}

export function registerActions(app: Hono<AppEnv>, ctx: ServerContext): void {
  const actions = new Map<string, ActionInfo>(ctx.hub.listActions().map((a) => [a.name, a]));
  const inTenant = tenant(ctx);

  app.post(
    "/api/actions/:name",
    // Before the tenant is resolved: an unknown action or a missing credential says so.
    async (c, next) => {
      const name = c.req.param("name");
      const action = actions.get(name);
      if (!action) throw notFound(`There is no action ${JSON.stringify(name)}.`);
      if (!action.public && c.get("principal").kind === "anonymous") {
        throw unauthorized(`Action ${JSON.stringify(name)} requires an authenticated user.`);
      }
      await next();
    },
    inTenant,
    async (c) => {
      const input = await readInput(c);
      const { key, caller } = c.get("tenant");
      const auth = actionAuthOf(c.get("principal"), caller);
      let result: unknown;
      try {
        result = await ctx.hub.runAction(key, c.req.param("name"), input, auth);
      } catch (error) {
        throw toApiError(error);
      }
      return c.json(result === undefined ? null : (result as object));
    },
  );
}
