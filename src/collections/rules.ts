/**
 * Collection rules with PocketBase's meaning, adapted to tenants: null =
 * superusers only; "" = any authenticated user of the tenant; otherwise a
 * filter expression the record must match (it may use @request.auth.*,
 * @request.body.*, ...). Superusers bypass every rule.
 */
import type { RawBuilder, SqlBool } from "kysely";
import type { Collection } from "./collection.js";
import { AuthRequired, RuleForbidden } from "./errors.js";
import { type FilterContext, type FilterRequestInfo, filterToSql } from "./filter/index.js";
import type { RuleName } from "./schema.js";

/** Who is asking, as far as rules and hidden fields are concerned. */
export interface Caller {
  superuser: boolean;
  /** @request.auth: the tenant user's record, or an identity provider's claims; null when anonymous. */
  auth: Record<string, unknown> | null;
  /** Set when the caller is a record of one of this tenant's auth collections. */
  record?: { collectionId: string; id: string };
  /** @request.query, @request.headers, @request.method. */
  request?: Omit<FilterRequestInfo, "auth" | "body">;
}

export const SUPERUSER: Caller = { superuser: true, auth: null };
export const ANONYMOUS: Caller = { superuser: false, auth: null };

/** What a rule asks of a query: nothing more, or a condition on the record. */
export type RuleOutcome = { kind: "all" } | { kind: "filter"; rule: string };

const ALL: RuleOutcome = { kind: "all" };

/** Throws when the rule shuts the caller out whatever the record; otherwise says what to check. */
export function gate(collection: Collection, rule: RuleName, caller: Caller): RuleOutcome {
  if (caller.superuser) return ALL;
  const expression = collection.rules[rule];
  if (expression === null) throw new RuleForbidden();
  if (expression === "") {
    if (caller.auth === null) throw new AuthRequired();
    return ALL;
  }
  return { kind: "filter", rule: expression };
}

export function filterContext(
  collection: Collection,
  dialect: FilterContext["dialect"],
  caller: Caller,
  body?: Record<string, unknown>,
  trusted = false,
): FilterContext {
  const base = caller.request;
  // Getters, not a spread: query and headers are computed only when a filter reads them.
  const request: FilterRequestInfo = {
    auth: caller.auth,
    get query() {
      return base?.query;
    },
    get headers() {
      return base?.headers;
    },
    method: base?.method ?? "",
    context: base?.context ?? "default",
  };
  if (body) request.body = body;
  return {
    dialect,
    fields: collection.filterFields,
    request,
    // Rules are written by superusers and may read hidden fields; client filters may not.
    allowHidden: trusted || caller.superuser,
  };
}

/** The SQL condition of a rule for this caller and body. */
export function ruleCondition(
  collection: Collection,
  outcome: Extract<RuleOutcome, { kind: "filter" }>,
  dialect: FilterContext["dialect"],
  caller: Caller,
  body?: Record<string, unknown>,
): RawBuilder<SqlBool> {
  return filterToSql(outcome.rule, filterContext(collection, dialect, caller, body, true));
}
