/** AST to a Kysely SQL fragment for `.where(...)`. */

import { type RawBuilder, type SqlBool, sql } from "kysely";
import type { FilterComparison, FilterExpr } from "./ast.js";
import { COMPARISON_OPERATORS } from "./ast.js";
import { type BaseOperator, compareValues } from "./compare.js";
import type { FilterContext, FilterLimits } from "./context.js";
import { FilterError } from "./errors.js";
import { parseFilter } from "./parser.js";
import { createState, type Operand, type ResolveState, resolveOperand } from "./resolve.js";
import { expr, type Sql } from "./values.js";

const OPERATORS: ReadonlySet<string> = new Set(COMPARISON_OPERATORS);

export function compileFilter(expression: FilterExpr, ctx: FilterContext): RawBuilder<SqlBool> {
  const state = createState(ctx);
  return compileNode(expression, state) as RawBuilder<SqlBool>;
}

export function filterToSql(
  input: string,
  ctx: FilterContext,
  limits?: FilterLimits,
): RawBuilder<SqlBool> {
  return compileFilter(parseFilter(input, limits), ctx);
}

function compileNode(node: FilterExpr, state: ResolveState): Sql {
  if (node?.kind === "comparison") return compileComparison(node, state);
  if (
    (node?.kind === "and" || node?.kind === "or") &&
    Array.isArray(node.items) &&
    node.items.length > 0
  ) {
    const joiner = node.kind === "and" ? sql` AND ` : sql` OR `;
    return sql`(${sql.join(
      node.items.map((item) => compileNode(item, state)),
      joiner,
    )})`;
  }
  throw new FilterError("invalid node in the expression tree", node?.position ?? 0);
}

function compileComparison(node: FilterComparison, state: ResolveState): Sql {
  if (!OPERATORS.has(node.operator)) {
    throw new FilterError(
      `unknown operator ${JSON.stringify(String(node.operator))}`,
      node.position ?? 0,
    );
  }
  const left = resolveOperand(node.left, state);
  const right = resolveOperand(node.right, state);
  const anyOf = node.operator.startsWith("?");
  const op = (anyOf ? node.operator.slice(1) : node.operator) as BaseOperator;
  let condition = matchOperands(state, op, anyOf, left, right);
  const guards = [left.guard, right.guard].filter((g): g is Sql => g !== undefined);
  if (guards.length > 0) condition = sql`(${sql.join([condition, ...guards], sql` AND `)})`;
  return condition;
}

/**
 * Multi-valued operands are matched element by element: `?op` needs one
 * element (pair) to match; a plain operator with `:each` needs every element
 * to match. Otherwise the scalar values compare (a multi-valued field as its
 * raw JSON text, as PocketBase does).
 */
function matchOperands(
  state: ResolveState,
  op: BaseOperator,
  anyOf: boolean,
  left: Operand,
  right: Operand,
): Sql {
  const dialect = state.dialect;
  const iterateLeft = left.elements !== undefined && (anyOf || left.each);
  const iterateRight = right.elements !== undefined && (anyOf || right.each);
  if (!iterateLeft && !iterateRight) return compareValues(dialect, op, left.scalar, right.scalar);

  const sources: Sql[] = [];
  // The element sources expose one oddly named column only, so that unqualified
  // field columns (json_each has id, key, value, type, ...) still mean the record's.
  const element = (source: Sql, alias: string) => {
    const value = `${alias}_value`;
    if (dialect === "sqlite") {
      sources.push(
        sql`(SELECT "value" AS ${sql.id(value)} FROM json_each(${source})) AS ${sql.id(alias)}`,
      );
    } else {
      sources.push(sql`jsonb_array_elements(${source}) AS ${sql.id(alias)}(${sql.id(value)})`);
    }
    return expr(sql.id(alias, value), "dynamic");
  };
  const a = iterateLeft ? element(left.elements!, "__tbfilter_l") : left.scalar;
  const b = iterateRight ? element(right.elements!, "__tbfilter_r") : right.scalar;
  const from = sql.join(sources, sql`, `);
  const condition = compareValues(dialect, op, a, b);
  const some = sql`EXISTS (SELECT 1 FROM ${from} WHERE ${condition})`;
  if (anyOf) return some;
  // PocketBase's "all": at least one element matches and none fails.
  return sql`(${some} AND NOT EXISTS (SELECT 1 FROM ${from} WHERE NOT ${condition}))`;
}
