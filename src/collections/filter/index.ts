/**
 * PocketBase's filter and sort language, compiled to parameterised SQL for
 * SQLite and PostgreSQL. See docs/filter.md for the exact syntax.
 */

export type {
  FilterComparison,
  FilterExpr,
  FilterLogical,
  FilterOperand,
  FilterOperator,
  IdentifierOperand,
  NumberOperand,
  StringOperand,
} from "./ast.js";
export { COMPARISON_OPERATORS } from "./ast.js";
export { compileFilter, filterToSql } from "./compiler.js";
export {
  DEFAULT_LIMITS,
  type FilterContext,
  type FilterField,
  type FilterFieldType,
  type FilterLimits,
  type FilterRequestInfo,
} from "./context.js";
export { FilterError } from "./errors.js";
export { MACRO_NAMES } from "./macros.js";
export { parseFilter } from "./parser.js";
export {
  parseSort,
  type SortField,
  type SortItem,
  type SortLimits,
  type SortRandom,
} from "./sort.js";
export { pbDate } from "./values.js";
