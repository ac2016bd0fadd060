/**
 * The typed operands the compiler works with, and the SQL pieces each dialect
 * needs for them. SQLite compares values of different classes natively (NULL <
 * numbers < text); PostgreSQL is strictly typed, so there mixed or JSON
 * comparisons go through a (class, number, text) row that orders the same way.
 */

import { type RawBuilder, sql } from "kysely";

export type Sql = RawBuilder<unknown>;
export type Dialect = "sqlite" | "postgres";

/** text: TEXT; number: numbers and booleans as 0/1; dynamic: a JSON value (SQLite: json_extract result, PostgreSQL: jsonb). */
export type ValueClass = "text" | "number" | "dynamic";
export type Literal = string | number | null;

export type Value =
  | { kind: "literal"; value: Literal }
  | {
      kind: "expr";
      sql: Sql;
      cls: ValueClass;
      /** PocketBase's "null fallback disabled" (JSON): = and != are null-safe IS / IS NOT, no ''/NULL folding. */
      nullSafe: boolean;
      /**
       * A plain column has SQLite type affinity: compared with a value that has
       * none (a parameter, a JSON value, a function result) SQLite first converts
       * that value (numeric text to a number; a number to text). Mirrored on PostgreSQL.
       */
      affinity?: Affinity;
    };

export type Affinity = "text" | "numeric";

export const literal = (value: Literal): Value => ({ kind: "literal", value });
export const expr = (
  sqlExpr: Sql,
  cls: ValueClass,
  nullSafe = false,
  affinity?: Affinity,
): Value => ({
  kind: "expr",
  sql: sqlExpr,
  cls,
  nullSafe,
  ...(affinity ? { affinity } : {}),
});

/**
 * SQLite's comparison rule: numeric affinity on one side converts the other
 * (unless it is numeric too); else text affinity converts a side with none.
 */
export function affinityApplied(value: Value, other: Value): Affinity | undefined {
  const own = value.kind === "expr" ? value.affinity : undefined;
  const theirs = other.kind === "expr" ? other.affinity : undefined;
  if (theirs === "numeric" && own !== "numeric") return "numeric";
  if (theirs === "text" && own === undefined) return "text";
  return undefined;
}

export function classOf(value: Value): ValueClass | "null" {
  if (value.kind === "expr") return value.cls;
  if (value.value === null) return "null";
  return typeof value.value === "number" ? "number" : "text";
}

/** The SQL for a value; literals always become bound parameters. */
export function valueSql(dialect: Dialect, value: Value): Sql {
  if (value.kind === "expr") return value.sql;
  const v = value.value;
  if (v === null) return sql`NULL`;
  if (dialect === "sqlite") return sql.val(v);
  return typeof v === "number"
    ? sql`CAST(${sql.val(v)} AS DOUBLE PRECISION)`
    : sql`CAST(${sql.val(v)} AS TEXT)`;
}

/** SQLite's lower() only folds ASCII; do the same everywhere so results agree. */
export function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export function pgAsciiLower(text: Sql): Sql {
  return sql`translate(${text}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`;
}

const PG_JSON_TYPE = (j: Sql) => sql`jsonb_typeof(${j})`;

/** A value as text, the way SQLite converts it for LIKE and lower(). */
export function textOf(dialect: Dialect, value: Value): Value {
  if (value.kind === "literal") {
    return literal(value.value === null ? null : String(value.value));
  }
  if (dialect === "sqlite" || value.cls === "text") return expr(value.sql, "text", value.nullSafe);
  if (value.cls === "number") return expr(sql`CAST(${value.sql} AS TEXT)`, "text", value.nullSafe);
  const j = value.sql;
  return expr(
    sql`(CASE ${PG_JSON_TYPE(j)} WHEN 'boolean' THEN (CASE WHEN ${j} = CAST('true' AS JSONB) THEN '1' ELSE '0' END) ELSE ${j} #>> '{}' END)`,
    "text",
    value.nullSafe,
  );
}

export function lowerOf(dialect: Dialect, value: Value): Value {
  if (value.kind === "literal") {
    return literal(value.value === null ? null : asciiLower(String(value.value)));
  }
  if (dialect === "sqlite") return expr(sql`LOWER(${value.sql})`, "text", value.nullSafe);
  const text = textOf(dialect, value) as Extract<Value, { kind: "expr" }>;
  return expr(pgAsciiLower(text.sql), "text", value.nullSafe);
}

/** PostgreSQL regex for SQLite's numeric text (see numericText). */
const PG_NUMERIC_TEXT = sql.raw(
  `E'${String.raw`^[ \t\n\v\f\r]*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?[ \t\n\v\f\r]*$`.replaceAll("\\", "\\\\")}'`,
);

/**
 * PostgreSQL: (class, number, text) with class 1 for numbers/booleans, 2 for
 * text/arrays/objects, NULL for null; compared row-wise this orders values as
 * SQLite does. `apply` converts the value as SQLite's affinity would.
 * NUMERIC (not DOUBLE PRECISION) so that any JSON number converts.
 */
export function pgTuple(
  value: Value,
  mode: "compare" | "coalesce" | "sort" = "compare",
  apply?: Affinity,
): Sql {
  const zero = sql`CAST(0 AS NUMERIC)`;
  const empty = sql`CAST('' AS TEXT)`;
  let cls: Sql;
  let num: Sql;
  let text: Sql;
  if (value.kind === "literal") {
    const v = value.value;
    if (v === null) {
      [cls, num, text] = [sql`CAST(NULL AS INTEGER)`, zero, empty];
    } else if (typeof v === "number") {
      [cls, num, text] = [sql`1`, sql`CAST(${sql.val(v)} AS NUMERIC)`, empty];
    } else {
      [cls, num, text] = [sql`2`, zero, sql`CAST(${sql.val(v)} AS TEXT)`];
    }
  } else if (value.cls === "text") {
    const x = value.sql;
    if (apply === "numeric") {
      const numeric = sql`(${x} ~ ${PG_NUMERIC_TEXT})`;
      cls = sql`(CASE WHEN ${x} IS NULL THEN NULL WHEN ${numeric} THEN 1 ELSE 2 END)`;
      num = sql`(CASE WHEN ${numeric} THEN CAST(${x} AS NUMERIC) ELSE 0 END)`;
      text = sql`(CASE WHEN ${numeric} THEN '' ELSE COALESCE(${x}, '') END)`;
    } else {
      cls = sql`(CASE WHEN ${x} IS NULL THEN NULL ELSE 2 END)`;
      num = zero;
      text = sql`COALESCE(${x}, '')`;
    }
  } else if (value.cls === "number") {
    const x = value.sql;
    if (apply === "text") {
      cls = sql`(CASE WHEN ${x} IS NULL THEN NULL ELSE 2 END)`;
      num = zero;
      text = sql`COALESCE(CAST(${x} AS TEXT), '')`;
    } else {
      cls = sql`(CASE WHEN ${x} IS NULL THEN NULL ELSE 1 END)`;
      num = sql`COALESCE(CAST(${x} AS NUMERIC), 0)`;
      text = empty;
    }
  } else {
    const j = value.sql;
    const t = PG_JSON_TYPE(j);
    const scalarText = sql`${j} #>> '{}'`;
    const boolNum = sql`(CASE WHEN ${j} = CAST('true' AS JSONB) THEN 1 ELSE 0 END)`;
    if (apply === "numeric") {
      const numeric = sql`(${t} = 'string' AND ${scalarText} ~ ${PG_NUMERIC_TEXT})`;
      cls = sql`(CASE WHEN ${numeric} THEN 1 WHEN ${t} IN ('number', 'boolean') THEN 1 WHEN ${t} IN ('string', 'array', 'object') THEN 2 END)`;
      num = sql`(CASE WHEN ${numeric} THEN CAST(${scalarText} AS NUMERIC) WHEN ${t} = 'number' THEN CAST(${scalarText} AS NUMERIC) WHEN ${t} = 'boolean' THEN ${boolNum} ELSE 0 END)`;
      text = sql`(CASE WHEN ${numeric} THEN '' WHEN ${t} = 'string' THEN ${scalarText} WHEN ${t} IN ('array', 'object') THEN CAST(${j} AS TEXT) ELSE '' END)`;
    } else if (apply === "text") {
      cls = sql`(CASE WHEN ${t} IN ('number', 'boolean', 'string', 'array', 'object') THEN 2 END)`;
      num = zero;
      text = sql`(CASE WHEN ${t} = 'boolean' THEN CAST(${boolNum} AS TEXT) WHEN ${t} IN ('number', 'string') THEN ${scalarText} WHEN ${t} IN ('array', 'object') THEN CAST(${j} AS TEXT) ELSE '' END)`;
    } else {
      cls = sql`(CASE WHEN ${t} IN ('number', 'boolean') THEN 1 WHEN ${t} IN ('string', 'array', 'object') THEN 2 END)`;
      num = sql`(CASE WHEN ${t} = 'number' THEN CAST(${scalarText} AS NUMERIC) WHEN ${t} = 'boolean' THEN ${boolNum} ELSE 0 END)`;
      text = sql`(CASE WHEN ${t} = 'string' THEN ${scalarText} WHEN ${t} IN ('array', 'object') THEN CAST(${j} AS TEXT) ELSE '' END)`;
    }
  }
  // coalesce: NULL behaves as ''; sort: NULL first, as SQLite orders it.
  if (mode === "coalesce") cls = sql`COALESCE(${cls}, 2)`;
  if (mode === "sort") cls = sql`COALESCE(${cls}, 0)`;
  return sql`ROW(${cls}, CAST(${num} AS NUMERIC), ${text} COLLATE "C")`;
}

/** PostgreSQL: is the dynamic (jsonb) value null, JSON null or ""? */
export function pgJsonIsEmpty(j: Sql): Sql {
  return sql`(${j} IS NULL OR ${PG_JSON_TYPE(j)} = 'null' OR (${PG_JSON_TYPE(j)} = 'string' AND ${j} #>> '{}' = ''))`;
}

// ---- JS values from the request (and macros) to literals -------------------

/** PocketBase's date text: "YYYY-MM-DD HH:MM:SS.sssZ" in UTC. */
export function pbDate(date: Date): string {
  return date.toISOString().replace("T", " ");
}

/** A request value as PocketBase binds it: booleans as 1/0, dates as text, arrays and objects as JSON. */
export function toLiteral(value: unknown): Literal {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : pbDate(value);
  return toJson(value) ?? null;
}

export function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
      const raw = this[key];
      if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : pbDate(raw);
      if (typeof v === "bigint") return toLiteral(v);
      // Lone surrogates become U+FFFD, as they do in text parameters (jsonb refuses them).
      if (typeof v === "string") return v.toWellFormed();
      return v;
    });
  } catch {
    return undefined; // cycles: treat as missing rather than crash
  }
}

/** SQLite's rule for text that converts to a number under NUMERIC affinity (ASCII spaces only). */
const NUMERIC_TEXT = /^[ \t\n\v\f\r]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \t\n\v\f\r]*$/;

export function numericText(text: string): number | undefined {
  if (!NUMERIC_TEXT.test(text)) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}
