/**
 * Random well-formed filters over every kind of operand must select the same
 * rows on SQLite and PostgreSQL.
 */

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filterToSql } from "../../../src/collections/filter/index.js";
import { context, openPostgres, openSqlite, ROWS, type Row, type TestDb } from "./fixtures.js";

/** More rows with numbers hiding in text, to exercise SQLite's affinity conversions. */
const MORE_ROWS: Row[] = [
  ...ROWS,
  {
    ...ROWS[0]!,
    id: "r7",
    title: "5",
    views: 5,
    active: false,
    meta: { n: "5", a: { b: false }, s: "5", list: [1, "1"], t: false },
    tags: ["1", "5"],
    single: "5",
    odd: "10",
  },
  {
    ...ROWS[1]!,
    id: "r8",
    title: " 10 ",
    views: 10,
    meta: { n: 10, a: { b: 0 }, s: "10", list: [], t: 1 },
    tags: ["10", "a"],
    single: "",
    author: "u1",
    odd: "1e3",
  },
];

const FIELD_OPERANDS = [
  "id",
  "title",
  "title:lower",
  "views",
  "active",
  "created",
  "updated",
  "meta",
  "meta.n",
  "meta.a.b",
  "meta.s",
  "meta.t",
  "meta.list.0",
  "meta.0",
  "tags",
  "tags:each",
  "tags:length",
  "single",
  "single:each",
  "single:length",
  "author",
  "email",
  "odd",
  "@request.auth.id",
  "@request.auth.roles",
  "@request.body.tags",
  "@request.body.views",
  "@request.body.title:changed",
];

const TEXTS = [
  "10",
  " 10 ",
  "1e3",
  "+5",
  "",
  "a",
  "b",
  "A",
  "hello",
  "Hello",
  "5",
  "5.5",
  " 5 ",
  "1",
  "abc",
  "%",
  "_",
  "o_W",
  "100%",
  "a\\b",
  "1e3",
  "true",
  "Àb",
  "u1",
  "2024-02",
  "[]",
  '["b"]',
];
const NUMBERS = ["0", "1", "-3", "5", "5.5", "10", "1000000", "0.5"];
const WORDS = ["true", "false", "null", "@now", "@year", "@todayStart"];
const OPERATORS = [
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
];

const quoted = (text: string) => `"${text.replaceAll('"', '\\"')}"`;

const operand = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FIELD_OPERANDS) },
  { weight: 2, arbitrary: fc.constantFrom(...TEXTS).map(quoted) },
  { weight: 1, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom(...WORDS) },
);

const comparison = fc
  .tuple(operand, fc.constantFrom(...OPERATORS), operand)
  .map(([a, op, b]) => `${a} ${op} ${b}`);

const { filter } = fc.letrec<{ filter: string }>((tie) => ({
  filter: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    comparison,
    fc
      .tuple(tie("filter"), fc.constantFrom("&&", "||"), tie("filter"))
      .map(([a, join, b]) => `(${a} ${join} ${b})`),
  ),
}));

const REQUEST = {
  auth: { id: "u1", roles: ["admin", "a"] },
  body: { tags: ["b", "z"], views: "10", title: "hello" },
};

describe("SQLite and PostgreSQL agree", () => {
  let lite: TestDb;
  let postgres: TestDb;
  beforeAll(async () => {
    lite = await openSqlite(MORE_ROWS);
    postgres = await openPostgres(MORE_ROWS);
  });
  afterAll(async () => {
    await lite.close();
    await postgres.close();
  });

  it("on random filters", async () => {
    await fc.assert(
      fc.asyncProperty(filter, async (text) => {
        const onLite = await lite.select(
          filterToSql(text, context("sqlite", { request: REQUEST })),
        );
        const onPostgres = await postgres.select(
          filterToSql(text, context("postgres", { request: REQUEST })),
        );
        expect({ text, rows: onPostgres }).toEqual({ text, rows: onLite });
      }),
      { numRuns: 1000 },
    );
  });
});
