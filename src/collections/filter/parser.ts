/**
 * Filter text to AST. `&&` binds tighter than `||` (as in SQL, which is how
 * PocketBase's flat expression lists end up evaluated); parentheses group.
 */

import type { FilterComparison, FilterExpr, FilterOperand } from "./ast.js";
import { DEFAULT_LIMITS, type FilterLimits } from "./context.js";
import { FilterError } from "./errors.js";
import { quoteSnippet, type Token, tokenize } from "./lexer.js";

export function parseFilter(input: string, limits: FilterLimits = {}): FilterExpr {
  if (typeof input !== "string") throw new FilterError("the filter must be a string", 0);
  const maxLength = limits.maxLength ?? DEFAULT_LIMITS.maxLength;
  if (input.length > maxLength) {
    throw new FilterError(`the filter is longer than ${maxLength} characters`, maxLength);
  }
  const parser = new Parser(tokenize(input), {
    maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxTerms: limits.maxTerms ?? DEFAULT_LIMITS.maxTerms,
  });
  return parser.parse();
}

function describe(token: Token): string {
  switch (token.kind) {
    case "identifier":
      return quoteSnippet(token.text);
    case "string":
      return "quoted text";
    case "number":
      return quoteSnippet(token.raw);
    case "operator":
      return quoteSnippet(token.operator);
    case "and":
      return '"&&"';
    case "or":
      return '"||"';
    case "lparen":
      return '"("';
    case "rparen":
      return '")"';
    case "eof":
      return "the end of the filter";
  }
}

class Parser {
  private index = 0;
  private depth = 0;
  private terms = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly limits: { maxDepth: number; maxTerms: number },
  ) {}

  parse(): FilterExpr {
    if (this.peek().kind === "eof") throw new FilterError("the filter is empty", 0);
    const expr = this.parseOr();
    const next = this.peek();
    if (next.kind === "rparen") throw new FilterError('unmatched ")"', next.position);
    if (next.kind !== "eof") {
      throw new FilterError(`expected && or ||, got ${describe(next)}`, next.position);
    }
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.tokens[this.index]!;
    if (token.kind !== "eof") this.index++;
    return token;
  }

  private parseOr(): FilterExpr {
    const items = [this.parseAnd()];
    while (this.peek().kind === "or") {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0]! : { kind: "or", items, position: items[0]!.position };
  }

  private parseAnd(): FilterExpr {
    const items = [this.parsePrimary()];
    while (this.peek().kind === "and") {
      this.next();
      items.push(this.parsePrimary());
    }
    return items.length === 1 ? items[0]! : { kind: "and", items, position: items[0]!.position };
  }

  private parsePrimary(): FilterExpr {
    const token = this.peek();
    if (token.kind !== "lparen") return this.parseComparison();
    this.next();
    if (++this.depth > this.limits.maxDepth) {
      throw new FilterError(
        `parentheses nested deeper than ${this.limits.maxDepth}`,
        token.position,
      );
    }
    if (this.peek().kind === "rparen") throw new FilterError("empty parentheses", token.position);
    const inner = this.parseOr();
    const close = this.next();
    if (close.kind !== "rparen") {
      const problem =
        close.kind === "eof"
          ? `missing ")" for the "(" at position ${token.position}`
          : `expected && or || or ")", got ${describe(close)}`;
      throw new FilterError(problem, close.position);
    }
    this.depth--;
    return inner;
  }

  private parseComparison(): FilterComparison {
    const left = this.parseOperand("a field or value");
    const op = this.next();
    if (op.kind !== "operator") {
      throw new FilterError(
        `expected an operator such as = or ~, got ${describe(op)}`,
        op.position,
      );
    }
    const right = this.parseOperand(`a field or value after ${op.operator}`);
    if (++this.terms > this.limits.maxTerms) {
      throw new FilterError(`more than ${this.limits.maxTerms} comparisons`, left.position);
    }
    return { kind: "comparison", operator: op.operator, left, right, position: left.position };
  }

  private parseOperand(expected: string): FilterOperand {
    const token = this.next();
    switch (token.kind) {
      case "identifier":
        return { kind: "identifier", name: token.text, position: token.position };
      case "string":
        return { kind: "string", value: token.value, position: token.position };
      case "number":
        return { kind: "number", value: token.value, raw: token.raw, position: token.position };
      default:
        throw new FilterError(`expected ${expected}, got ${describe(token)}`, token.position);
    }
  }
}
