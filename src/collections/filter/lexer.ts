/**
 * Splits a filter into tokens, following PocketBase's scanner (fexpr):
 * identifiers start with a letter, `_`, `@` or `#` and go on with letters,
 * digits, `_`, `.` and `:`; numbers are an optional leading `-`, digits and at
 * most one `.`; text is single- or double-quoted, where only a backslash
 * before the closing quote character escapes it; `//` starts a comment to the
 * end of the line.
 */

import { COMPARISON_OPERATORS, type FilterOperator } from "./ast.js";
import { FilterError } from "./errors.js";

export type Token =
  | { kind: "identifier"; text: string; position: number }
  | { kind: "string"; value: string; position: number }
  | { kind: "number"; value: number; raw: string; position: number }
  | { kind: "operator"; operator: FilterOperator; position: number }
  | { kind: "and" | "or" | "lparen" | "rparen" | "eof"; position: number };

const OPERATORS: ReadonlySet<string> = new Set(COMPARISON_OPERATORS);
const OPERATOR_CHARS = "=?!<>~";
const JOIN_CHARS = "&|";

const isLetter = (c: string) => (c >= "a" && c <= "z") || (c >= "A" && c <= "Z");
const isDigit = (c: string) => c >= "0" && c <= "9";
const isIdentifierStart = (c: string) => isLetter(c) || c === "_" || c === "@" || c === "#";
const isIdentifierPart = (c: string) =>
  isLetter(c) || isDigit(c) || c === "_" || c === "." || c === ":";
// PocketBase accepts space, tab and newline; \r is accepted too so CRLF text works.
const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";

/** Shows a piece of input in an error message without flooding it. */
export function quoteSnippet(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    const start = i;
    if (isSpace(c)) {
      i++;
    } else if (c === "/") {
      if (input[i + 1] !== "/") throw new FilterError('a single "/" (comments start with "//")', i);
      while (i < input.length && input[i] !== "\n") i++;
    } else if (c === "(") {
      tokens.push({ kind: "lparen", position: i++ });
    } else if (c === ")") {
      tokens.push({ kind: "rparen", position: i++ });
    } else if (c === "'" || c === '"') {
      i = readString(input, i, tokens);
    } else if (c === "-" || isDigit(c)) {
      i = readNumber(input, i, tokens);
    } else if (isIdentifierStart(c)) {
      i++;
      while (i < input.length && isIdentifierPart(input[i]!)) i++;
      const text = input.slice(start, i);
      if (input[i] === "(") {
        throw new FilterError(
          `function calls such as ${quoteSnippet(text)} are not supported`,
          start,
        );
      }
      const last = text[text.length - 1]!;
      if (last === "." || last === ":" || (text.length === 1 && !isLetter(text))) {
        throw new FilterError(`invalid identifier ${quoteSnippet(text)}`, start);
      }
      tokens.push({ kind: "identifier", text, position: start });
    } else if (OPERATOR_CHARS.includes(c)) {
      while (i < input.length && OPERATOR_CHARS.includes(input[i]!)) i++;
      const text = input.slice(start, i);
      if (!OPERATORS.has(text))
        throw new FilterError(`unknown operator ${quoteSnippet(text)}`, start);
      tokens.push({ kind: "operator", operator: text as FilterOperator, position: start });
    } else if (JOIN_CHARS.includes(c)) {
      while (i < input.length && JOIN_CHARS.includes(input[i]!)) i++;
      const text = input.slice(start, i);
      if (text === "&&") tokens.push({ kind: "and", position: start });
      else if (text === "||") tokens.push({ kind: "or", position: start });
      else throw new FilterError(`unknown operator ${quoteSnippet(text)} (use && or ||)`, start);
    } else {
      throw new FilterError(`unexpected character ${quoteSnippet(c)}`, start);
    }
  }
  tokens.push({ kind: "eof", position: input.length });
  return tokens;
}

function readString(input: string, start: number, tokens: Token[]): number {
  const quote = input[start]!;
  let i = start + 1;
  let value = "";
  for (;;) {
    if (i >= input.length) throw new FilterError("unterminated quoted text", start);
    const c = input[i]!;
    // PostgreSQL cannot hold NUL in text, so neither dialect accepts it.
    if (c === "\0") throw new FilterError("NUL characters are not allowed", i);
    if (c === quote) break;
    if (c === "\\" && input[i + 1] === quote) {
      value += quote;
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  tokens.push({ kind: "string", value, position: start });
  return i + 1;
}

function readNumber(input: string, start: number, tokens: Token[]): number {
  let i = start + 1;
  let hadDot = false;
  while (i < input.length) {
    const c = input[i]!;
    if (isDigit(c)) i++;
    else if (c === "." && !hadDot) {
      hadDot = true;
      i++;
    } else break;
  }
  const raw = input.slice(start, i);
  if (raw === "-" || raw.endsWith("."))
    throw new FilterError(`invalid number ${quoteSnippet(raw)}`, start);
  const value = Number(raw);
  if (!Number.isFinite(value))
    throw new FilterError(`number ${quoteSnippet(raw)} is out of range`, start);
  tokens.push({ kind: "number", value, raw, position: start });
  return i;
}
