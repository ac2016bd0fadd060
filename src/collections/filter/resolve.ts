/**
 * Identifiers to typed operands: collection fields (with JSON paths and
 * modifiers), macros, `@request.*` values, and `true`/`false`/`null`.
 * Columns come only from ctx.fields and are always quoted; every value is a
 * bound parameter.
 */

import { sql } from "kysely";
import type { FilterOperand } from "./ast.js";
import { compareValues } from "./compare.js";
import type { FilterContext, FilterField } from "./context.js";
import { FilterError } from "./errors.js";
import { quoteSnippet } from "./lexer.js";
import { macroValue } from "./macros.js";
import {
  asciiLower,
  type Dialect,
  expr,
  type Literal,
  literal,
  lowerOf,
  numericText,
  pbDate,
  type Sql,
  toJson,
  toLiteral,
  type Value,
} from "./values.js";

export interface Operand {
  scalar: Value;
  /** A multi-valued operand: a JSON array (SQLite text, PostgreSQL jsonb), never empty ([] reads as [null]). */
  elements?: Sql;
  /** `:each`: the plain operators require every element to match. */
  each: boolean;
  /** Extra condition for the comparison to match (`visibleWhen`). */
  guard?: Sql;
  /** The collection field read, if any (sorting needs one). */
  field?: FilterField;
}

export interface ResolveState {
  ctx: FilterContext;
  dialect: Dialect;
  now: Date;
  headers: Record<string, string>;
}

const MODIFIERS = new Set(["lower", "length", "each", "isset", "changed"]);
const MULTI_VALUE_TYPES = new Set(["select", "relation", "file"]);

export function createState(ctx: FilterContext): ResolveState {
  if (ctx === null || typeof ctx !== "object") throw new FilterError("missing filter context", 0);
  if (ctx.dialect !== "sqlite" && ctx.dialect !== "postgres") {
    throw new FilterError(`unsupported dialect ${quoteSnippet(String(ctx.dialect))}`, 0);
  }
  if (!(ctx.fields instanceof Map)) throw new FilterError("ctx.fields must be a Map", 0);
  const now = ctx.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new FilterError("ctx.now is not a valid date", 0);
  }
  // PocketBase exposes header names lower-cased with "-" written as "_".
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.request?.headers ?? {})) {
    headers[name.toLowerCase().replaceAll("-", "_")] = value;
  }
  return { ctx, dialect: ctx.dialect, now, headers };
}

export function resolveOperand(node: FilterOperand, state: ResolveState): Operand {
  switch (node?.kind) {
    case "string":
      if (typeof node.value !== "string") break;
      return { scalar: checkedLiteral(node.value, node.position, state), each: false };
    case "number":
      if (typeof node.value !== "number" || !Number.isFinite(node.value)) break;
      return { scalar: literal(node.value), each: false };
    case "identifier":
      if (typeof node.name !== "string") break;
      return resolveIdentifier(node.name, node.position ?? 0, state);
  }
  throw new FilterError("invalid operand in the expression tree", node?.position ?? 0);
}

function splitModifier(name: string, position: number): { base: string; modifier?: string } {
  const colon = name.indexOf(":");
  if (colon < 0) return { base: name };
  const modifier = name.slice(colon + 1);
  if (!MODIFIERS.has(modifier)) {
    throw new FilterError(
      `unknown modifier ${quoteSnippet(`:${modifier}`)} (known: :lower, :length, :each, :isset, :changed)`,
      position + colon,
    );
  }
  return { base: name.slice(0, colon), modifier };
}

function splitPath(base: string, position: number): string[] {
  const parts = base.split(".");
  if (parts.some((part) => part === "")) {
    throw new FilterError(`invalid identifier ${quoteSnippet(base)}`, position);
  }
  return parts;
}

export function resolveIdentifier(name: string, position: number, state: ResolveState): Operand {
  if (name === "@request" || name.startsWith("@request.") || name.startsWith("@request:")) {
    return resolveRequest(name, position, state);
  }
  if (name.startsWith("@collection")) {
    throw new FilterError("@collection.* is not supported (filters see one collection)", position);
  }
  if (name.startsWith("@")) {
    const value = macroValue(name, state.now);
    if (value === undefined) throw new FilterError(`unknown macro ${quoteSnippet(name)}`, position);
    return { scalar: literal(value), each: false };
  }
  const { base, modifier } = splitModifier(name, position);
  const path = splitPath(base, position);
  const field = state.ctx.fields.get(path[0]!);
  if (!field) {
    if (path.length === 1 && modifier === undefined) {
      // As in PocketBase, these words are literals only when no field has the name.
      const word = name.toLowerCase();
      if (word === "null") return { scalar: literal(null), each: false };
      if (word === "true") return { scalar: literal(1), each: false };
      if (word === "false") return { scalar: literal(0), each: false };
    }
    throw new FilterError(`unknown field ${quoteSnippet(path[0]!)}`, position);
  }
  checkVisible(field, position, state);
  return resolveField(field, path.slice(1), modifier, name, position, state);
}

function checkVisible(field: FilterField, position: number, state: ResolveState): void {
  if (field.hidden && !state.ctx.allowHidden) {
    throw new FilterError(
      `field ${quoteSnippet(field.name)} cannot be filtered or sorted`,
      position,
    );
  }
}

const isMultiValueType = (field: FilterField) => MULTI_VALUE_TYPES.has(field.type);

function resolveField(
  field: FilterField,
  path: string[],
  modifier: string | undefined,
  name: string,
  position: number,
  state: ResolveState,
): Operand {
  const guard = visibilityGuard(field, state);
  const done = (scalar: Value, extra: Partial<Operand> = {}): Operand => ({
    scalar,
    each: false,
    field,
    ...(guard ? { guard } : {}),
    ...extra,
  });
  if (path.length > 0) {
    if (field.type === "relation") {
      throw new FilterError(
        `relation traversal such as ${quoteSnippet(name)} is not supported; compare the relation id instead (${field.name} = "RECORD_ID")`,
        position,
      );
    }
    if (field.type !== "json") {
      throw new FilterError(`field ${quoteSnippet(field.name)} has no sub-fields`, position);
    }
    const value = jsonValue(field, path, state);
    if (modifier === undefined) return done(value);
    if (modifier === "lower") return done(lowerOf(state.dialect, value));
    throw new FilterError(`:${modifier} cannot be used on a JSON path`, position);
  }
  const value = fieldValue(field, state);
  switch (modifier) {
    case undefined:
      return done(value, field.multiple ? { elements: multiSource(field, state) } : {});
    case "lower":
      return done(lowerOf(state.dialect, value));
    case "length":
      requireMultiValue(field, modifier, position);
      return done(lengthValue(field, state));
    case "each":
      requireMultiValue(field, modifier, position);
      return done(value, {
        each: true,
        ...(field.multiple ? { elements: multiSource(field, state) } : {}),
      });
    case "isset":
      throw new FilterError(":isset only applies to @request.* fields", position);
    default:
      throw new FilterError(`:${modifier} only applies to @request.body fields`, position);
  }
}

function requireMultiValue(field: FilterField, modifier: string, position: number): void {
  if (!isMultiValueType(field)) {
    throw new FilterError(
      `:${modifier} only applies to select, relation and file fields, not ${quoteSnippet(field.name)}`,
      position,
    );
  }
}

// ---- columns -----------------------------------------------------------------

function column(field: FilterField, state: ResolveState, name = field.column): Sql {
  if (typeof name !== "string" || name === "") {
    throw new FilterError(`field ${quoteSnippet(String(field.name))} has no column`, 0);
  }
  const table = state.ctx.table;
  return table ? sql.id(table, name) : sql.id(name);
}

function visibilityGuard(field: FilterField, state: ResolveState): Sql | undefined {
  if (!field.visibleWhen || state.ctx.allowHidden) return undefined;
  const flag = column(field, state, field.visibleWhen);
  return state.dialect === "sqlite" ? sql`(${flag} = 1)` : sql`(CAST(${flag} AS INTEGER) = 1)`;
}

/** The field's own value (for multi-valued fields: the raw JSON text). */
export function fieldValue(field: FilterField, state: ResolveState): Value {
  const col = column(field, state);
  const pg = state.dialect === "postgres";
  if (field.multiple) return expr(pg ? sql`CAST(${col} AS TEXT)` : col, "text");
  switch (field.type) {
    case "number":
      return expr(col, "number", false, "numeric");
    case "bool":
      // 0/1 on both sides: PocketBase compares booleans with true = 1, false = 0.
      return expr(pg ? sql`CAST(${col} AS INTEGER)` : col, "number", false, "numeric");
    case "json":
      return jsonValue(field, [], state);
    default:
      return expr(col, "text", false, "text");
  }
}

/** PostgreSQL: the column as jsonb, whether it is declared JSONB or TEXT holding JSON ('' reads as NULL). */
function pgJson(col: Sql): Sql {
  return sql`CAST(NULLIF(CAST(${col} AS TEXT), '') AS JSONB)`;
}

function jsonValue(field: FilterField, path: string[], state: ResolveState): Value {
  const col = column(field, state);
  if (state.dialect === "postgres") {
    const j = pgJson(col);
    return expr(path.length ? sql`(${j} #> CAST(${sql.val(path)} AS TEXT[]))` : j, "dynamic", true);
  }
  const suffix = path.map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`)).join("");
  // Text that is not JSON is read as a JSON string, as PocketBase does.
  return expr(
    sql`(CASE WHEN json_valid(${col}) THEN json_extract(${col}, ${sql.val(`$${suffix}`)}) ELSE json_extract(json_object('pb', ${col}), ${sql.val(`$.pb${suffix}`)}) END)`,
    "dynamic",
    true,
  );
}

function multiSource(field: FilterField, state: ResolveState): Sql {
  const col = column(field, state);
  if (state.dialect === "postgres") {
    const j = pgJson(col);
    return sql`(CASE WHEN jsonb_typeof(${j}) = 'array' THEN (CASE WHEN jsonb_array_length(${j}) = 0 THEN CAST('[null]' AS JSONB) ELSE ${j} END) ELSE jsonb_build_array(${j}) END)`;
  }
  return sql`(CASE WHEN json_valid(${col}) THEN (CASE WHEN json_type(${col}) = 'array' THEN (CASE WHEN json_array_length(${col}) = 0 THEN '[null]' ELSE ${col} END) ELSE json_array(${col}) END) ELSE json_array(${col}) END)`;
}

function lengthValue(field: FilterField, state: ResolveState): Value {
  const col = column(field, state);
  if (!field.multiple)
    return expr(sql`(CASE WHEN ${col} = '' OR ${col} IS NULL THEN 0 ELSE 1 END)`, "number");
  if (state.dialect === "postgres") {
    const j = pgJson(col);
    return expr(
      sql`(CASE WHEN jsonb_typeof(${j}) = 'array' THEN jsonb_array_length(${j}) WHEN ${j} IS NULL THEN 0 ELSE 1 END)`,
      "number",
    );
  }
  return expr(
    sql`json_array_length(CASE WHEN json_valid(${col}) THEN (CASE WHEN json_type(${col}) = 'array' THEN ${col} ELSE json_array(${col}) END) WHEN ${col} = '' OR ${col} IS NULL THEN json_array() ELSE json_array(${col}) END)`,
    "number",
  );
}

// ---- @request.* ---------------------------------------------------------------

const NULL_OPERAND: Operand = { scalar: literal(null), each: false };

function resolveRequest(name: string, position: number, state: ResolveState): Operand {
  const { base, modifier } = splitModifier(name, position);
  const parts = splitPath(base, position);
  const kind = parts[1];
  const request = state.ctx.request;
  if (kind === "method" || kind === "context") {
    if (parts.length !== 2 || modifier !== undefined) {
      throw new FilterError(`@request.${kind} takes no sub-fields or modifiers`, position);
    }
    return request ? staticOperand(request[kind], position, state) : NULL_OPERAND;
  }
  if (kind !== "auth" && kind !== "body" && kind !== "query" && kind !== "headers") {
    const hint = kind === "data" ? " (@request.data is now @request.body)" : "";
    throw new FilterError(
      `unknown request field ${quoteSnippet(base)}; use @request.auth.*, @request.body.*, @request.query.*, @request.headers.*, @request.method or @request.context${hint}`,
      position,
    );
  }
  const path = parts.slice(2);
  if (path.length === 0)
    throw new FilterError(
      `@request.${kind} needs a field name, e.g. @request.${kind}.id`,
      position,
    );
  const bodyField = kind === "body" ? state.ctx.fields.get(path[0]!) : undefined;
  if (bodyField?.type === "relation" && path.length > 1) {
    throw new FilterError(
      `relation traversal such as ${quoteSnippet(name)} is not supported`,
      position,
    );
  }
  const collectionField = bodyField && path.length === 1 ? bodyField : undefined;
  const allowed =
    kind === "auth"
      ? ["isset", "lower", "each", "length"]
      : collectionField
        ? ["isset", "lower", "each", "length", "changed"]
        : ["isset", "lower"];
  if (modifier !== undefined && !allowed.includes(modifier)) {
    throw new FilterError(`:${modifier} cannot be used on ${quoteSnippet(base)}`, position);
  }
  if ((modifier === "each" || modifier === "length") && collectionField) {
    requireMultiValue(collectionField, modifier, position);
  }
  if (!request) return NULL_OPERAND;

  let root: unknown;
  if (kind === "auth") {
    if (!request.auth) return NULL_OPERAND; // anonymous: every auth field is null
    root = request.auth;
  } else if (kind === "headers") {
    root = state.headers;
    path[0] = path[0]!.toLowerCase();
  } else {
    root = request[kind] ?? {};
  }
  const found = lookup(root, path);

  switch (modifier) {
    case "isset":
      return { scalar: literal(found ? 1 : 0), each: false };
    case "length":
      return { scalar: literal(toList(found?.value).length), each: false };
    case "each":
      return {
        scalar: staticOperand(found?.value, position, state).scalar,
        elements: jsonList(toList(found?.value), position, state),
        each: true,
      };
    case "lower": {
      const value = found?.value ?? (collectionField ? "" : null);
      return { scalar: checkedLiteral(lowerText(value), position, state), each: false };
    }
    case "changed": {
      const field = collectionField!;
      checkVisible(field, position, state);
      if (!found) return { scalar: literal(0), each: false };
      const sent = bodyValue(field, found.value, position, state);
      const differs = compareValues(state.dialect, "!=", sent.scalar, fieldValue(field, state));
      return {
        scalar: expr(sql`(CASE WHEN ${differs} THEN 1 ELSE 0 END)`, "number", true),
        each: false,
      };
    }
    default:
      return collectionField
        ? bodyValue(collectionField, found?.value, position, state)
        : staticOperand(found?.value, position, state);
  }
}

/** Multipart bodies send numbers as text; compare them as numbers for number fields. */
function bodyValue(
  field: FilterField,
  value: unknown,
  position: number,
  state: ResolveState,
): Operand {
  if (field.type === "number" && typeof value === "string") {
    const n = numericText(value);
    if (n !== undefined) return { scalar: literal(n), each: false };
  }
  return staticOperand(value, position, state);
}

function lookup(root: unknown, path: readonly string[]): { value: unknown } | undefined {
  let current = root;
  for (const key of path) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(key) || Number(key) >= current.length) return undefined;
      current = current[Number(key)];
    } else if (current !== null && typeof current === "object" && !(current instanceof Date)) {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return { value: current };
}

const toList = (value: unknown): unknown[] =>
  value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];

function lowerText(value: unknown): Literal {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? "true" : "false";
  const lit = value instanceof Date ? pbDate(value) : toLiteral(value);
  return lit === null ? null : asciiLower(String(lit));
}

function staticOperand(value: unknown, position: number, state: ResolveState): Operand {
  const scalar = checkedLiteral(toLiteral(value), position, state);
  return Array.isArray(value)
    ? { scalar, elements: jsonList(value, position, state), each: false }
    : { scalar, each: false };
}

/** PostgreSQL cannot hold NUL in text; say so instead of failing at execution. */
function checkedLiteral(value: Literal, position: number, state: ResolveState): Value {
  if (state.dialect === "postgres" && typeof value === "string" && value.includes("\0")) {
    throw new FilterError(
      "a value contains a NUL character, which PostgreSQL cannot compare",
      position,
    );
  }
  return literal(value);
}

function jsonList(items: unknown[], position: number, state: ResolveState): Sql {
  const json = toJson(items.length > 0 ? items : [null]) ?? "[null]";
  if (state.dialect === "sqlite") return sql.val(json);
  if (json.includes("\\u0000")) {
    throw new FilterError(
      "a value contains a NUL character, which PostgreSQL cannot compare",
      position,
    );
  }
  return sql`CAST(${sql.val(json)} AS JSONB)`;
}
