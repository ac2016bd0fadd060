import { describe, expect, it } from "vitest";
import {
  COMPARISON_OPERATORS,
  FilterError,
  type FilterExpr,
  parseFilter,
} from "../../../src/collections/filter/index.js";

/** A compact rendering of the AST: comparisons as "a op b", groups in brackets. */
function show(expr: FilterExpr): string {
  if (expr.kind === "comparison") {
    const operand = (o: typeof expr.left) =>
      o.kind === "identifier"
        ? o.name
        : o.kind === "number"
          ? `#${o.value}`
          : JSON.stringify(o.value);
    return `${operand(expr.left)} ${expr.operator} ${operand(expr.right)}`;
  }
  return `${expr.kind}[${expr.items.map(show).join(", ")}]`;
}

function errorOf(input: string, limits?: Parameters<typeof parseFilter>[1]): FilterError {
  try {
    parseFilter(input, limits);
  } catch (error) {
    if (error instanceof FilterError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(input)} to fail`);
}

describe("parseFilter", () => {
  it.each(COMPARISON_OPERATORS)("parses the %s operator", (op) => {
    expect(show(parseFilter(`a ${op} 1`))).toBe(`a ${op} #1`);
    expect(show(parseFilter(`a${op}1`))).toBe(`a ${op} #1`);
  });

  it("parses literals", () => {
    expect(show(parseFilter(`a = "x y"`))).toBe('a = "x y"');
    expect(show(parseFilter(`a = 'x y'`))).toBe('a = "x y"');
    expect(show(parseFilter(`a = ""`))).toBe('a = ""');
    expect(show(parseFilter(`a = 'it\\'s'`))).toBe(`a = "it's"`);
    expect(show(parseFilter(`a = "say \\"hi\\""`))).toBe('a = "say \\"hi\\""');
    expect(show(parseFilter(`a = "mixed 'quotes'"`))).toBe(`a = "mixed 'quotes'"`);
    // Only the closing quote character can be escaped; other backslashes stay.
    expect(show(parseFilter(String.raw`a = "c:\dir\n"`))).toBe(String.raw`a = "c:\\dir\\n"`);
    expect(show(parseFilter(`a = "ünï 😀"`))).toBe('a = "ünï 😀"');
    expect(show(parseFilter("a = 12"))).toBe("a = #12");
    expect(show(parseFilter("a = -12.5"))).toBe("a = #-12.5");
    expect(show(parseFilter("a = 0.25"))).toBe("a = #0.25");
    expect(show(parseFilter("a=-1"))).toBe("a = #-1");
    expect(show(parseFilter("a = true && b = FALSE && c = null"))).toBe(
      "and[a = true, b = FALSE, c = null]",
    );
  });

  it("keeps identifiers whole: paths, modifiers, macros, @request", () => {
    expect(show(parseFilter("meta.a.0 = tags:length"))).toBe("meta.a.0 = tags:length");
    expect(show(parseFilter("@request.auth.id != @now"))).toBe("@request.auth.id != @now");
    expect(show(parseFilter("_x = #y"))).toBe("_x = #y");
  });

  it("binds && tighter than ||", () => {
    expect(show(parseFilter("a = 1 || b = 2 && c = 3"))).toBe("or[a = #1, and[b = #2, c = #3]]");
    expect(show(parseFilter("a = 1 && b = 2 || c = 3"))).toBe("or[and[a = #1, b = #2], c = #3]");
    expect(show(parseFilter("(a = 1 || b = 2) && c = 3"))).toBe("and[or[a = #1, b = #2], c = #3]");
    expect(show(parseFilter("a = 1 && b = 2 && c = 3"))).toBe("and[a = #1, b = #2, c = #3]");
    expect(show(parseFilter("((a = 1))"))).toBe("a = #1");
  });

  it("skips whitespace and // comments", () => {
    const text = "// leading\n a = 1 // trailing\n\t&&\r\n b = 2 // end";
    expect(show(parseFilter(text))).toBe("and[a = #1, b = #2]");
    expect(show(parseFilter('a = "// not a comment"'))).toBe('a = "// not a comment"');
  });

  it("records positions", () => {
    const expr = parseFilter("a = 1 || (bb != 'x')");
    expect(expr.kind).toBe("or");
    if (expr.kind !== "or") return;
    const right = expr.items[1]!;
    expect(right).toMatchObject({ kind: "comparison", position: 10 });
    if (right.kind === "comparison") expect(right.right.position).toBe(16);
  });

  it.each([
    ["", "the filter is empty", 0],
    ["   // only a comment", "the filter is empty", 0],
    ["a", "expected an operator", 1],
    ["a =", "expected a field or value after =", 3],
    ["= 1", "expected a field or value", 0],
    ["a == 1", 'unknown operator "=="', 2],
    ["a => 1", 'unknown operator "=>"', 2],
    ["a = 1 & b = 2", 'unknown operator "&"', 6],
    ["a = 1 ||| b = 2", 'unknown operator "|||"', 6],
    ["a = 1 b = 2", "expected && or ||", 6],
    ["a = 1 &&", "expected a field or value", 8],
    ["(a = 1", 'missing ")" for the "(" at position 0', 6],
    ["a = 1)", 'unmatched ")"', 5],
    ["()", "empty parentheses", 0],
    ["(a = 1 b = 2)", 'expected && or || or ")"', 7],
    ["a = 'open", "unterminated quoted text", 4],
    ['a = "ends with backslash\\"', "unterminated quoted text", 4],
    ["a = 1.", 'invalid number "1."', 4],
    ["a = -", 'invalid number "-"', 4],
    ["a = 1.2.3", "unexpected character", 7],
    ["a. = 1", 'invalid identifier "a."', 0],
    ["a: = 1", 'invalid identifier "a:"', 0],
    ["@ = 1", 'invalid identifier "@"', 0],
    ["a = $1", 'unexpected character "$"', 4],
    ["a = 1; drop table x", 'unexpected character ";"', 5],
    ["a / b", 'a single "/"', 2],
    ["strftime('%Y') = '2024'", "function calls", 0],
    ["a = 'x\0y'", "NUL characters are not allowed", 6],
    ["a = 1 && \u00a0b = 2", "unexpected character", 9],
    [`a = ${"9".repeat(400)}`, "out of range", 4],
  ])("rejects %j: %s at %i", (input, problem, position) => {
    const error = errorOf(input);
    expect(error.code).toBe("FILTER_INVALID");
    expect(error.message).toContain(problem);
    expect(error.message).toContain(`(at position ${position})`);
    expect(error.details).toMatchObject({ position });
    expect(error.position).toBe(position);
  });

  it("enforces the length limit (3500 by default)", () => {
    const long = `a = "${"x".repeat(3494)}"`;
    expect(long.length).toBe(3500);
    expect(() => parseFilter(long)).not.toThrow();
    expect(errorOf(`${long} `).message).toContain("longer than 3500 characters");
    expect(errorOf("a = 1", { maxLength: 4 }).details).toMatchObject({ position: 4 });
    expect(errorOf("x".repeat(1_000_000)).message).toContain("longer than");
  });

  it("enforces the depth limit (32 by default)", () => {
    const nested = (n: number) => `${"(".repeat(n)}a = 1${")".repeat(n)}`;
    expect(show(parseFilter(nested(32)))).toBe("a = #1");
    const error = errorOf(nested(33));
    expect(error.message).toContain("nested deeper than 32");
    expect(error.position).toBe(32);
    expect(errorOf(nested(3), { maxDepth: 2 }).position).toBe(2);
    expect(errorOf(nested(1700)).message).toContain("nested deeper");
  });

  it("enforces the term limit (200 by default)", () => {
    const terms = (n: number) => Array.from({ length: n }, (_, i) => `a = ${i}`).join(" || ");
    expect(() => parseFilter(terms(200))).not.toThrow();
    const error = errorOf(terms(201));
    expect(error.message).toContain("more than 200 comparisons");
    expect(error.position).toBe(terms(200).length + 4);
    expect(errorOf(terms(3), { maxTerms: 2 }).message).toContain("more than 2 comparisons");
  });

  it("rejects non-string input", () => {
    expect(() => parseFilter(42 as unknown as string)).toThrow(FilterError);
  });
});
