/** The parsed form of a filter. Positions are 0-based offsets into the input. */

export const COMPARISON_OPERATORS = [
  "=",
  "!=",
  ">",
  ">=",
  "<",
  "<=",
  "~",
  "!~",
  "?=",
  "?!=",
  "?>",
  "?>=",
  "?<",
  "?<=",
  "?~",
  "?!~",
] as const;

export type FilterOperator = (typeof COMPARISON_OPERATORS)[number];

/** An identifier: a field (`title`, `meta.a`, `tags:length`), a macro (`@now`), `@request.*`, or `true`/`false`/`null`. */
export interface IdentifierOperand {
  kind: "identifier";
  name: string;
  position: number;
}

export interface StringOperand {
  kind: "string";
  value: string;
  position: number;
}

export interface NumberOperand {
  kind: "number";
  value: number;
  /** As written, e.g. "-1.50". */
  raw: string;
  position: number;
}

export type FilterOperand = IdentifierOperand | StringOperand | NumberOperand;

export interface FilterComparison {
  kind: "comparison";
  operator: FilterOperator;
  left: FilterOperand;
  right: FilterOperand;
  position: number;
}

/** `&&` (kind "and") or `||` (kind "or") over two or more items. */
export interface FilterLogical {
  kind: "and" | "or";
  items: FilterExpr[];
  position: number;
}

export type FilterExpr = FilterComparison | FilterLogical;
