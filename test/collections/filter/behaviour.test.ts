/**
 * Each filter runs on a real table, in SQLite and in PostgreSQL, and must
 * select the same rows on both (see fixtures.ts for the rows).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FilterContext,
  FilterError,
  filterToSql,
} from "../../../src/collections/filter/index.js";
import { context, DIALECTS, type TestDb } from "./fixtures.js";

const ALL = ["r1", "r2", "r3", "r4", "r5", "r6"];
const NONE: string[] = [];

/** [filter, ids selected] */
const CASES: Array<[string, string[]]> = [
  // text, = and != with PocketBase's null/empty folding
  ['title = "hello"', ["r2"]],
  ["title = 'hello'", ["r2"]],
  ['title != "hello"', ["r1", "r3", "r4", "r5", "r6"]],
  ['title = ""', ["r3", "r4"]],
  ["title = null", ["r3", "r4"]],
  ["null = title", ["r3", "r4"]],
  ["title != null", ["r1", "r2", "r5", "r6"]],
  ['"" != title', ["r1", "r2", "r5", "r6"]],
  ['title > "a"', ["r2", "r6"]],
  ['title <= "Hello World"', ["r1", "r3", "r5"]],
  // ~ is a case-insensitive (ASCII) "contains"
  ['title ~ "hello"', ["r1", "r2"]],
  ['title !~ "hello"', ["r3", "r5", "r6"]],
  ['title ~ "100%"', ["r5"]],
  ['title ~ "%sure%"', ["r5"]],
  ['title ~ "o_W"', NONE],
  ['title ~ "o W"', ["r1"]],
  ['title ~ "e_t"', ["r5"]],
  ["title ~ 'g\\o'", ["r5"]],
  ['title ~ "àb"', NONE],
  ['title ~ "Àb"', ["r6"]],
  ['title ~ ""', ["r1", "r2", "r3", "r5", "r6"]],
  ["title ~ null", NONE],
  ["title !~ null", NONE],
  ['"HELLO WORLD!" ~ title', ["r1", "r2", "r3"]],
  ['title:lower = "hello world"', ["r1"]],
  ['title:lower = "Àb big"', ["r6"]],
  ['title:lower ~ "àb"', NONE],
  // numbers, numeric text, mixed classes
  ["views > 5", ["r1", "r2", "r6"]],
  ["views >= 5.5", ["r1", "r2", "r6"]],
  ["views < 0", ["r5"]],
  ["views = 0", ["r3"]],
  ["views = -3", ["r5"]],
  ["views = 1000000", ["r6"]],
  ['views > "5"', ["r1", "r2", "r6"]],
  ['views = " 5.5 "', ["r2"]],
  ['views = "abc"', NONE],
  ['views != "abc"', ALL],
  ['views < "abc"', ["r1", "r2", "r3", "r5", "r6"]],
  ["views = null", ["r4"]],
  ['views != ""', ["r1", "r2", "r3", "r5", "r6"]],
  ['views ~ "5"', ["r2"]],
  ["views ~ 100", ["r6"]],
  // bool fields store 0/1; true = 1, false = 0
  ["active = true", ["r1", "r5", "r6"]],
  ["active = false", ["r2", "r3"]],
  ["active != true", ["r2", "r3", "r4"]],
  ["active = null", ["r4"]],
  ["active = 1", ["r1", "r5", "r6"]],
  ['active = "true"', NONE],
  ["TRUE = active", ["r1", "r5", "r6"]],
  // dates are text in PocketBase's format
  ['created > "2024-01-15"', ["r2", "r3", "r5"]],
  ["created < updated", ["r1", "r5"]],
  ["created = updated", ["r3", "r4", "r6"]],
  ["created >= @todayStart && created <= @todayEnd", ["r5"]],
  ["created < @yearStart", ["r1", "r2", "r3", "r6"]],
  ["created > @yesterday && created < @now", ["r5"]],
  ['@monthStart = "2025-06-01 00:00:00.000Z" && @monthEnd = "2025-06-30 23:59:59.999Z"', ALL],
  ['@yearStart = "2025-01-01 00:00:00.000Z" && @yearEnd = "2025-12-31 23:59:59.999Z"', ALL],
  ['@now = "2025-06-15 12:00:00.000Z" && @tomorrow = "2025-06-16 12:00:00.000Z"', ALL],
  ["@year = 2025 && @month = 6 && @day = 15 && @weekday = 0", ALL],
  ["@hour = 12 && @minute = 0 && @second = 0", ALL],
  // JSON: values keep their JSON type; = and != are null-safe, no ''/null folding
  ["meta.a.b = 1", ["r1"]],
  ['meta.a.b = "1"', ["r2"]],
  ["meta.n = 5", ["r1"]],
  ["meta.n = 5.5", ["r6"]],
  ["meta.n > 4", ["r1", "r2", "r6"]],
  ["meta.n < 6", ["r1", "r6"]],
  ["meta.n = null", ["r3", "r4", "r5"]],
  ["meta.n != null", ["r1", "r2", "r6"]],
  ['meta.s = ""', ["r6"]],
  ['meta.s != ""', ["r1", "r2", "r3", "r4", "r5"]],
  ['meta.s ~ "str"', ["r1"]],
  ["meta.t = true", ["r1"]],
  ['meta.list.1 = "y"', ["r1"]],
  ["meta.0 = 1", ["r5"]],
  ["meta.a = null", ["r3", "r4", "r5", "r6"]],
  ['meta.a.b:lower = "1"', ["r1", "r2"]],
  ["meta = null", ["r3"]],
  // a number field converts numeric JSON text, as SQLite's column affinity does
  ["views > meta.n", ["r1", "r2", "r6"]],
  ["views > meta.a.b", ["r1", "r2"]],
  ["title = meta.n", ["r4"]],
  ["views = meta.s", ["r4"]],
  ["meta.n = meta.n", ["r1", "r2", "r3", "r4", "r5", "r6"]],
  // multi-valued fields: ?op matches any element, :each with a plain op every element
  ['tags ?= "a"', ["r1", "r5"]],
  ['tags ?= "A"', ["r6"]],
  ['tags ?!= "a"', ALL],
  ['tags:each = "b"', ["r2"]],
  ['tags:each != "c"', ["r1", "r2", "r3", "r4", "r6"]],
  ['tags:each ?= "c"', ["r5"]],
  ['tags ?~ "a"', ["r1", "r5", "r6"]],
  ['tags ?> "b"', ["r5"]],
  ['tags ~ "a"', ["r1", "r5", "r6"]],
  ['tags = ""', ["r4"]],
  ['tags ?= ""', ["r3", "r4"]],
  ["tags ?= null", ["r3", "r4"]],
  ["tags:length = 0", ["r3", "r4"]],
  ["tags:length > 1", ["r1", "r5"]],
  ["tags:length = 1", ["r2", "r6"]],
  ["tags ?= single", ["r1", "r2", "r3", "r4", "r5"]],
  ["single ?= tags", ["r1", "r2", "r3", "r4", "r5"]],
  ['single:each = "a"', ["r1", "r6"]],
  ['single ?= "a"', ["r1", "r6"]],
  ["single:length = 1", ["r1", "r2", "r5", "r6"]],
  ["single:length = 0", ["r3", "r4"]],
  ["tags:each ?= tags:each", ["r1", "r2", "r3", "r4", "r5", "r6"]],
  // relation ids, id, other fields, quoting of odd column names
  ['author = "u1"', ["r1", "r5"]],
  ['id = "r3"', ["r3"]],
  ["id = 123", NONE],
  ['odd = "o5"', ["r5"]],
  ['odd = ""', ["r2", "r3", "r4"]],
  // precedence, grouping, comments
  ["active = true && views < 0 || views = 0", ["r3", "r5"]],
  ["views = 0 || active = true && views < 0", ["r3", "r5"]],
  ["active = true && (views < 0 || views = 0)", ["r5"]],
  ["((views = 10))", ["r1"]],
  ['title = "hello" // only r2\n || views = 10 // or r1', ["r1", "r2"]],
  // literals on both sides
  ["1 = 1", ALL],
  ["'a' = 'b'", NONE],
  ['null = ""', ALL],
  ["null != ''", NONE],
  ["1 = '1'", NONE],
  ['"abc" < "abd"', ALL],
  ["2 > 1.5", ALL],
  ["-1 < 0", ALL],
  // visibleWhen: email is matched only where emailVisibility is true
  ['email ~ "example.com"', ["r1", "r6"]],
  ['email = "two@example.com"', NONE],
];

const REQUEST: FilterContext["request"] = {
  auth: { id: "u1", verified: true, roles: ["admin", "x"], profile: { age: 30 }, none: null },
  body: { title: "hello", views: "5.5", tags: ["b", "z"], extra: { a: [1, 2] } },
  query: { q: "Hello", page: "2", p: "100%\\", u: "_" },
  headers: { "X-Token": "t1", Accept: "*/*" },
  method: "GET",
  context: "default",
};

const REQUEST_CASES: Array<[string, string[]]> = [
  ['@request.auth.id != ""', ALL],
  ["author = @request.auth.id", ["r1", "r5"]],
  ["@request.auth.verified = true", ALL],
  ['@request.auth.roles ?= "admin"', ALL],
  ['@request.auth.roles:each = "admin"', NONE],
  ["@request.auth.roles:length = 2", ALL],
  ["@request.auth.profile.age > 18", ALL],
  ["@request.auth.missing = null", ALL],
  ["@request.auth.none:isset = true && @request.auth.missing:isset = false", ALL],
  ["title = @request.body.title", ["r2"]],
  ["views = @request.body.views", ["r2"]],
  ["@request.body.title:isset = true", ALL],
  ["@request.body.nope:isset = true", NONE],
  ["@request.body.views:changed = true", ["r1", "r3", "r4", "r5", "r6"]],
  ["@request.body.title:changed = false", ["r2"]],
  ["@request.body.single:changed = true", NONE],
  ["tags ?= @request.body.tags", ["r1", "r2"]],
  ["@request.body.tags:length = 2", ALL],
  ['@request.body.tags:each ?= "z"', ALL],
  ['@request.body.tags:each != "z"', NONE],
  ["@request.body.extra.a.1 = 2", ALL],
  ['@request.query.q:lower = "hello"', ALL],
  ["title ~ @request.query.q", ["r1", "r2"]],
  ['@request.query.page = "2" && @request.query.page = 2', NONE],
  ['@request.query.page = "2"', ALL],
  ["title ~ @request.query.p", NONE],
  ["title !~ @request.query.p", ["r1", "r2", "r3", "r5", "r6"]],
  ["title ~ @request.query.u", ["r5"]],
  ["id < tags:each", NONE],
  ["id ?> @request.body.tags", ALL],
  ['@request.headers.x_token = "t1" && @request.headers.X_TOKEN = "t1"', ALL],
  ['@request.method = "GET" && @request.context = "default"', ALL],
];

const ANONYMOUS_CASES: Array<[string, string[]]> = [
  ['@request.auth.id != ""', NONE],
  ['@request.auth.id = ""', ALL],
  ["@request.auth.id = null", ALL],
  ["@request.auth.roles ?= 'admin'", NONE],
];

describe.each(DIALECTS)("filters on %s", (dialect, open) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each(CASES)("%s", async (filter, expected) => {
    expect(await t.select(filterToSql(filter, context(dialect)))).toEqual(expected);
  });

  it.each(REQUEST_CASES)("with a request: %s", async (filter, expected) => {
    const where = filterToSql(filter, context(dialect, { request: REQUEST }));
    expect(await t.select(where)).toEqual(expected);
  });

  it.each(ANONYMOUS_CASES)("anonymous: %s", async (filter, expected) => {
    const anonymous = { ...REQUEST, auth: null };
    expect(await t.select(filterToSql(filter, context(dialect, { request: anonymous })))).toEqual(
      expected,
    );
  });

  it("resolves every @request.* to null without request info", async () => {
    const where = filterToSql(
      '@request.auth.id = "" && @request.body.title = null && @request.method = null && @request.body.x:isset = null',
      context(dialect),
    );
    expect(await t.select(where)).toEqual(ALL);
  });

  it("lets superusers filter hidden fields and skips visibleWhen for them", async () => {
    expect(() => filterToSql('secret = "s1"', context(dialect))).toThrow(FilterError);
    const superuser = context(dialect, { allowHidden: true });
    expect(await t.select(filterToSql('secret = "s1"', superuser))).toEqual(["r1"]);
    expect(await t.select(filterToSql('email ~ "example.com"', superuser))).toEqual([
      "r1",
      "r2",
      "r6",
    ]);
  });

  it("qualifies columns with ctx.table", async () => {
    const where = filterToSql(
      'title = "hello" && tags ?= "b"',
      context(dialect, { table: "items" }),
    );
    expect(await t.select(where)).toEqual(["r2"]);
  });
});
