/**
 * Records of a collection in one tenant, PocketBase's API:
 * GET    /api/collections/:collection/records?page&perPage&sort&filter&skipTotal&fields
 * GET    /api/collections/:collection/records/:id
 * POST   /api/collections/:collection/records
 * PATCH  /api/collections/:collection/records/:id
 * DELETE /api/collections/:collection/records/:id
 */
import type { Context, Hono } from "hono";
import type { FieldErrors } from "../../collections/errors.js";
import { fieldError } from "../../collections/errors.js";
import { parseFieldsParam, pickFields as pick } from "../../collections/output.js";
import type { ListQuery } from "../../collections/records.js";
import { MAX_RULE_LENGTH } from "../../collections/schema.js";
import { readJsonObject } from "../body.js";
import type { ServerContext } from "../context.js";
import type { AppEnv } from "../env.js";
import { badRequest, nestFieldErrors } from "../errors.js";
import { tenant } from "../middleware/tenant/index.js";
import { positiveInteger } from "../query.js";
import { DEFAULT_PER_PAGE, MAX_PER_PAGE } from "../schemas.js";

const TRUE_VALUES = new Set(["1", "t", "true"]);
const FALSE_VALUES = new Set(["0", "f", "false"]);

function listQuery(c: Context<AppEnv>, ctx: ServerContext): ListQuery {
  const collection = ctx.collections.require(c.req.param("collection")!);
  const q = c.req.query();
  const errors: FieldErrors = {};
  const page = positiveInteger(q.page, 1, Number.MAX_SAFE_INTEGER);
  if (page === undefined) {
    errors.page = fieldError("validation_invalid_page", "Must be a whole number of 1 or more.");
  }
  const perPage = positiveInteger(q.perPage, DEFAULT_PER_PAGE, MAX_PER_PAGE);
  if (perPage === undefined) {
    errors.perPage = fieldError(
      "validation_invalid_per_page",
      `Must be a whole number from 1 to ${MAX_PER_PAGE}.`,
    );
  }
  let skipTotal = false;
  if (q.skipTotal !== undefined && q.skipTotal !== "") {
    const lower = q.skipTotal.toLowerCase();
    if (TRUE_VALUES.has(lower)) skipTotal = true;
    else if (!FALSE_VALUES.has(lower)) {
      errors.skipTotal = fieldError("validation_invalid_bool", "Must be true or false.");
    }
  }
  if (q.filter !== undefined && q.filter.length > MAX_RULE_LENGTH) {
    errors.filter = fieldError(
      "validation_length_too_long",
      `The filter must be at most ${MAX_RULE_LENGTH} characters.`,
    );
  }
  if (Object.keys(errors).length > 0) {
    throw badRequest("Invalid list parameters.", nestFieldErrors(errors));
  }
  return {
    page: page!,
    perPage: perPage!,
    skipTotal,
    fields: parseFieldsParam(collection, q.fields),
    ...(q.filter !== undefined ? { filter: q.filter } : {}),
    ...(q.sort !== undefined ? { sort: q.sort } : {}),
  };
}

export function registerRecordCrud(app: Hono<AppEnv>, ctx: ServerContext): void {
  const base = "/api/collections/:collection/records";
  const inTenant = tenant(ctx);
  const collectionOf = (c: Context<AppEnv>) => ctx.collections.require(c.req.param("collection")!);

  app.get(base, inTenant, async (c) => {
    const query = listQuery(c, ctx);
    const { handle, caller } = c.get("tenant");
    return c.json(await ctx.records.list(handle, collectionOf(c), caller, query));
  });

  app.get(`${base}/:id`, inTenant, async (c) => {
    const collection = collectionOf(c);
    const fields = parseFieldsParam(collection, c.req.query("fields"));
    const { handle, caller } = c.get("tenant");
    return c.json(await ctx.records.view(handle, collection, caller, c.req.param("id"), fields));
  });

  app.post(base, inTenant, async (c) => {
    const collection = collectionOf(c);
    const fields = parseFieldsParam(collection, c.req.query("fields"));
    const body = await readJsonObject(c);
    const { handle, caller } = c.get("tenant");
    const record = await ctx.records.create(handle, collection, caller, body);
    return c.json(pick(record, fields));
  });

  app.patch(`${base}/:id`, inTenant, async (c) => {
    const collection = collectionOf(c);
    const fields = parseFieldsParam(collection, c.req.query("fields"));
    const body = await readJsonObject(c);
    const { handle, caller } = c.get("tenant");
    const record = await ctx.records.update(handle, collection, caller, c.req.param("id"), body);
    return c.json(pick(record, fields));
  });

  app.delete(`${base}/:id`, inTenant, async (c) => {
    const { handle, caller } = c.get("tenant");
    await ctx.records.delete(handle, collectionOf(c), caller, c.req.param("id"));
    return c.body(null, 204);
  });
}
