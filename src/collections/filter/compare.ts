/**
 * One comparison between two values, with PocketBase's semantics:
 * - `=`/`!=` treat NULL and '' alike (`x = null` and `x = ""` both match NULL
 *   and ''), except for JSON values, which compare null-safely as they are;
 * - `!=` is null-safe (`IS NOT`), so NULL != 'a' is true;
 * - `~`/`!~` are LIKE "contains", case-insensitive for ASCII;
 * - a number field against numeric text compares as numbers; a text field
 *   against a number compares as text.
 */

import { sql } from "kysely";
import {
  affinityApplied,
  asciiLower,
  classOf,
  type Dialect,
  literal,
  numericText,
  pgAsciiLower,
  pgJsonIsEmpty,
  pgTuple,
  type Sql,
  textOf,
  type Value,
  valueSql,
} from "./values.js";

export type BaseOperator = "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~";

export const TRUE_SQL: Sql = sql`(1 = 1)`;
export const FALSE_SQL: Sql = sql`(1 = 0)`;

export function compareValues(dialect: Dialect, op: BaseOperator, a: Value, b: Value): Sql {
  if (op === "~" || op === "!~") return like(dialect, op === "!~", a, b);
  if (op === "=" || op === "!=") return equality(dialect, op, a, b);
  return direct(dialect, op, a, b, false);
}

const isEmptyLiteral = (v: Value) => v.kind === "literal" && (v.value === null || v.value === "");
const isKnownNonEmpty = (v: Value) => v.kind === "literal" && v.value !== null && v.value !== "";

function equality(dialect: Dialect, op: "=" | "!=", a: Value, b: Value): Sql {
  const eq = op === "=";
  if ((a.kind === "expr" && a.nullSafe) || (b.kind === "expr" && b.nullSafe)) {
    return direct(dialect, op, a, b, true);
  }
  const aEmpty = isEmptyLiteral(a);
  const bEmpty = isEmptyLiteral(b);
  if (aEmpty && bEmpty) return eq ? TRUE_SQL : FALSE_SQL;
  if (isKnownNonEmpty(a) || isKnownNonEmpty(b)) {
    return direct(dialect, op, aEmpty ? literal("") : a, bEmpty ? literal("") : b, false);
  }
  if (aEmpty) return emptiness(dialect, eq, b);
  if (bEmpty) return emptiness(dialect, eq, a);
  return coalesced(dialect, eq, a, b);
}

/** `x = ''` in PocketBase's sense: x is NULL or ''. */
function emptiness(dialect: Dialect, eq: boolean, value: Value): Sql {
  if (value.kind === "literal") return eq ? FALSE_SQL : TRUE_SQL; // unreachable: literals are known
  const x = value.sql;
  if (value.cls === "number") return eq ? sql`(${x} IS NULL)` : sql`(${x} IS NOT NULL)`;
  if (dialect === "postgres" && value.cls === "dynamic") {
    return eq ? pgJsonIsEmpty(x) : sql`(NOT ${pgJsonIsEmpty(x)})`;
  }
  if (dialect === "sqlite") {
    return eq ? sql`(${x} = '' OR ${x} IS NULL)` : sql`(${x} IS NOT '' AND ${x} IS NOT NULL)`;
  }
  return eq ? sql`(${x} = '' OR ${x} IS NULL)` : sql`(${x} <> '' AND ${x} IS NOT NULL)`;
}

/** Two non-literal operands: COALESCE(a, '') = COALESCE(b, ''). */
function coalesced(dialect: Dialect, eq: boolean, a: Value, b: Value): Sql {
  const x = valueSql(dialect, a);
  const y = valueSql(dialect, b);
  if (dialect === "sqlite") {
    return eq
      ? sql`(COALESCE(${x}, '') = COALESCE(${y}, ''))`
      : sql`(COALESCE(${x}, '') IS NOT COALESCE(${y}, ''))`;
  }
  const ca = classOf(a);
  const cb = classOf(b);
  if (ca === "text" && cb === "text") {
    return eq
      ? sql`(COALESCE(${x}, '') = COALESCE(${y}, ''))`
      : sql`(COALESCE(${x}, '') <> COALESCE(${y}, ''))`;
  }
  if (ca === "number" && cb === "number") {
    return eq ? sql`(${x} IS NOT DISTINCT FROM ${y})` : sql`(${x} IS DISTINCT FROM ${y})`;
  }
  const rows = [pgTuple(a, "coalesce"), pgTuple(b, "coalesce")] as const;
  return eq ? sql`(${rows[0]} = ${rows[1]})` : sql`(${rows[0]} IS DISTINCT FROM ${rows[1]})`;
}

/** A literal converted as SQLite's affinity would (numeric text to a number; a number to text). */
function coerce(value: Value, other: Value): Value {
  if (value.kind !== "literal") return value;
  const apply = affinityApplied(value, other);
  const v = value.value;
  if (apply === "numeric" && typeof v === "string") {
    const n = numericText(v);
    return n === undefined ? value : literal(n);
  }
  if (apply === "text" && typeof v === "number") return literal(String(v));
  return value;
}

function operatorSql(
  dialect: Dialect,
  op: Exclude<BaseOperator, "~" | "!~">,
  nullSafe: boolean,
): Sql {
  if (op === "!=") return dialect === "sqlite" ? sql`IS NOT` : sql`IS DISTINCT FROM`;
  if (op === "=" && nullSafe) return dialect === "sqlite" ? sql`IS` : sql`IS NOT DISTINCT FROM`;
  return sql.raw(op);
}

function direct(
  dialect: Dialect,
  op: Exclude<BaseOperator, "~" | "!~">,
  left: Value,
  right: Value,
  nullSafe: boolean,
): Sql {
  const a = coerce(left, right);
  const b = coerce(right, left);
  const opSql = operatorSql(dialect, op, nullSafe);
  if (dialect === "sqlite") return sql`(${valueSql(dialect, a)} ${opSql} ${valueSql(dialect, b)})`;
  const ca = classOf(a);
  const cb = classOf(b);
  const sameStatic =
    ca !== "dynamic" && cb !== "dynamic" && (ca === cb || ca === "null" || cb === "null");
  if (sameStatic) {
    let x = valueSql(dialect, a);
    let y = valueSql(dialect, b);
    if (op !== "=" && op !== "!=") {
      // Byte order, as SQLite's BINARY collation, whatever the database's locale
      // (only for ordering: on equality it would keep indexes from being used).
      if (ca === "text") x = sql`${x} COLLATE "C"`;
      else if (cb === "text") y = sql`${y} COLLATE "C"`;
    }
    return sql`(${x} ${opSql} ${y})`;
  }
  const nullCheck = op === "!=" || (op === "=" && nullSafe);
  if (nullCheck && (ca === "null" || cb === "null")) {
    // A JSON value against null: skip the row machinery (JSON null counts as null).
    const j = valueSql(dialect, ca === "null" ? b : a);
    const isNull = sql`(${j} IS NULL OR jsonb_typeof(${j}) = 'null')`;
    return op === "=" ? isNull : sql`(NOT ${isNull})`;
  }
  const rows = [
    pgTuple(a, "compare", affinityApplied(a, b)),
    pgTuple(b, "compare", affinityApplied(b, a)),
  ];
  return sql`(${rows[0]} ${opSql} ${rows[1]})`;
}

// ---- LIKE -------------------------------------------------------------------

/**
 * PocketBase's "contains" pattern: used as written if it has an unescaped %,
 * else \ % _ are escaped (unless already escaped) and it is wrapped in %...%.
 */
export function likePattern(text: string): string {
  if (hasUnescaped(text, "%")) return text;
  return `%${escapeUnescaped(text)}%`;
}

function hasUnescaped(text: string, ch: string): boolean {
  let escaped = false;
  for (const c of text) {
    if (escaped) escaped = false;
    else if (c === "\\") escaped = true;
    else if (c === ch) return true;
  }
  return false;
}

/** Scanning from the end, a special character counts as escaped when a backslash precedes it. */
function escapeUnescaped(text: string): string {
  const chars = [...text];
  const out: string[] = [];
  let pending = false;
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!;
    if (pending) {
      if (c !== "\\") out.push("\\");
      pending = false;
      out.push(c);
      if (c === "\\") continue;
    } else {
      out.push(c);
    }
    if (c === "\\" || c === "%" || c === "_") pending = true;
  }
  if (pending) out.push("\\");
  return out.reverse().join("");
}

/** SQLite never matches a pattern ending in a lone escape character; PostgreSQL raises an error. */
function endsWithLoneEscape(pattern: string): boolean {
  let count = 0;
  for (let i = pattern.length - 1; i >= 0 && pattern[i] === "\\"; i--) count++;
  return count % 2 === 1;
}

function like(dialect: Dialect, negated: boolean, a: Value, b: Value): Sql {
  const left = valueSql(dialect, textOf(dialect, a));
  const subject = dialect === "postgres" ? pgAsciiLower(left) : left;
  const not = negated ? sql`NOT ` : sql``;
  const escapeChar = dialect === "postgres" ? sql`E'\\\\'` : sql`'\\'`;
  if (b.kind === "literal" && b.value !== null) {
    const pattern = likePattern(String(b.value));
    if (endsWithLoneEscape(pattern)) {
      return sql`(CASE WHEN ${left} IS NULL THEN NULL ELSE ${negated ? TRUE_SQL : FALSE_SQL} END)`;
    }
    const param = dialect === "postgres" ? asciiLower(pattern) : pattern;
    const patternSql =
      dialect === "postgres" ? sql`CAST(${sql.val(param)} AS TEXT)` : sql.val(param);
    return sql`(${subject} ${not}LIKE ${patternSql} ESCAPE ${escapeChar})`;
  }
  const right = valueSql(dialect, textOf(dialect, b));
  const inner = dialect === "postgres" ? pgAsciiLower(right) : right;
  return sql`(${subject} ${not}LIKE ('%' || ${inner} || '%') ESCAPE ${escapeChar})`;
}
