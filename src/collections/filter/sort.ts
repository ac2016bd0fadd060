/**
 * PocketBase's sort syntax: comma-separated fields, `-` for descending, `+`
 * (optional) for ascending, `@random`, and `@rowid` on SQLite.
 */

import { type RawBuilder, sql } from "kysely";
import type { FilterContext } from "./context.js";
import { FilterError } from "./errors.js";
import { quoteSnippet } from "./lexer.js";
import { createState, type ResolveState, resolveIdentifier } from "./resolve.js";
import { pgTuple, type Value, valueSql } from "./values.js";

export interface SortField {
  /** The field's column (for a JSON path or modifier: the column it reads). */
  column: string;
  direction: "asc" | "desc";
  /** What to order by (quoted column, or a JSON/modifier expression). */
  expression: RawBuilder<unknown>;
  /** The whole ORDER BY term, direction included; on PostgreSQL NULLs and text order as on SQLite. */
  orderBy: RawBuilder<unknown>;
}

export interface SortRandom {
  random: true;
  expression: RawBuilder<unknown>;
  orderBy: RawBuilder<unknown>;
}

export type SortItem = SortField | SortRandom;

export interface SortLimits {
  /** Most sort terms (default 8, as PocketBase). */
  maxFields?: number;
  /** Longest term (default 255, as PocketBase). */
  maxFieldLength?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*(:[a-z]+)?$/;

export function parseSort(input: string, ctx: FilterContext, limits: SortLimits = {}): SortItem[] {
  if (typeof input !== "string") throw new FilterError("the sort must be a string", 0);
  const state = createState(ctx);
  const maxFields = limits.maxFields ?? 8;
  const maxFieldLength = limits.maxFieldLength ?? 255;
  if (input.trim() === "") return [];
  if (input.length > maxFields * (maxFieldLength + 2)) {
    throw new FilterError("the sort is too long", maxFields * (maxFieldLength + 2));
  }
  const segments: Array<{ text: string; position: number }> = [];
  let offset = 0;
  for (const text of input.split(",")) {
    segments.push({ text, position: offset + (text.length - text.trimStart().length) });
    offset += text.length + 1;
  }
  if (segments.length > maxFields) {
    throw new FilterError(`more than ${maxFields} sort fields`, segments[maxFields]!.position);
  }
  const items: SortItem[] = [];
  for (const { text, position } of segments) {
    let term = text.trim();
    if (term.length > maxFieldLength) {
      throw new FilterError(`sort field longer than ${maxFieldLength} characters`, position);
    }
    let direction: "asc" | "desc" = "asc";
    let namePosition = position;
    if (term.startsWith("-") || term.startsWith("+")) {
      direction = term.startsWith("-") ? "desc" : "asc";
      term = term.slice(1);
      namePosition++;
    }
    if (term === "") throw new FilterError("empty sort field", position);
    items.push(sortItem(term, direction, namePosition, state));
  }
  return items;
}

function sortItem(
  name: string,
  direction: "asc" | "desc",
  position: number,
  state: ResolveState,
): SortItem {
  const { dialect, ctx } = state;
  const dir = direction === "asc" ? sql`ASC` : sql`DESC`;
  if (name === "@random") {
    const expression = sql`random()`;
    return { random: true, expression, orderBy: expression };
  }
  if (name === "@rowid") {
    if (dialect !== "sqlite") throw new FilterError("@rowid is only available on SQLite", position);
    const expression = ctx.table ? sql.id(ctx.table, "_rowid_") : sql.id("_rowid_");
    return { column: "_rowid_", direction, expression, orderBy: sql`${expression} ${dir}` };
  }
  if (!IDENTIFIER.test(name))
    throw new FilterError(`invalid sort field ${quoteSnippet(name)}`, position);
  if (name.endsWith(":each") || name.endsWith(":isset") || name.endsWith(":changed")) {
    throw new FilterError(`cannot sort by ${quoteSnippet(name)}`, position);
  }
  const operand = resolveIdentifier(name, position, state);
  if (!operand.field || operand.scalar.kind !== "expr") {
    throw new FilterError(`${quoteSnippet(name)} is not a field`, position);
  }
  const expression = valueSql(dialect, operand.scalar);
  if (dialect === "sqlite") {
    return {
      column: operand.field.column,
      direction,
      expression,
      orderBy: sql`${expression} ${dir}`,
    };
  }
  const nulls = direction === "asc" ? sql`NULLS FIRST` : sql`NULLS LAST`;
  const ordered = postgresOrderValue(operand.scalar);
  return {
    column: operand.field.column,
    direction,
    expression,
    orderBy: sql`${ordered} ${dir} ${nulls}`,
  };
}

/** Byte-order text and SQLite's class order for JSON values. */
function postgresOrderValue(value: Value & { kind: "expr" }): RawBuilder<unknown> {
  if (value.cls === "text") return sql`${value.sql} COLLATE "C"`;
  if (value.cls === "number") return value.sql;
  return pgTuple(value, "sort");
}
