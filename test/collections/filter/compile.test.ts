import Database from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  compileFilter,
  type FilterContext,
  FilterError,
  type FilterExpr,
  filterToSql,
  parseFilter,
} from "../../../src/collections/filter/index.js";
import { context, NOW } from "./fixtures.js";

// Compiling needs no connection: these only render SQL.
const lite = new Kysely<any>({
  dialect: new SqliteDialect({ database: new Database(":memory:") }),
});
const postgres = new Kysely<any>({
  dialect: new PostgresDialect({ pool: new pg.Pool({ host: "127.0.0.1", max: 1 }) }),
});
afterAll(async () => {
  await lite.destroy();
  await postgres.destroy();
});

const render = (filter: string, ctx: FilterContext = context("sqlite")) =>
  filterToSql(filter, ctx).compile(ctx.dialect === "sqlite" ? lite : postgres);

function errorOf(filter: string, ctx: FilterContext = context("sqlite")): FilterError {
  try {
    filterToSql(filter, ctx);
  } catch (error) {
    if (error instanceof FilterError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(filter)} to fail`);
}

describe("compileFilter errors", () => {
  it.each([
    ["nope = 1", 'unknown field "nope"', 0],
    ["title = 1 && nope.x = 1", 'unknown field "nope"', 13],
    ['secret = "x"', 'field "secret" cannot be filtered', 0],
    ["title = secret", 'field "secret" cannot be filtered', 8],
    ['author.name = "x"', "relation traversal", 0],
    ['@request.body.author.name = "x"', "relation traversal", 0],
    ['title.x = "x"', 'field "title" has no sub-fields', 0],
    ['@collection.users.id = "x"', "@collection.* is not supported", 0],
    ["created > @someday", 'unknown macro "@someday"', 10],
    ['title:upper = "x"', 'unknown modifier ":upper"', 5],
    ["title:lower:length = 1", "unknown modifier", 5],
    ["title:length = 1", ":length only applies to select, relation and file fields", 0],
    ["views:each = 1", ":each only applies", 0],
    ["title:isset = true", ":isset only applies to @request.* fields", 0],
    ["title:changed = true", ":changed only applies to @request.body fields", 0],
    ["meta.a:length = 1", ":length cannot be used on a JSON path", 0],
    ['@request.data.title = "x"', "@request.data is now @request.body", 0],
    ["@request.foo = 1", "unknown request field", 0],
    ["@request = 1", "unknown request field", 0],
    ["@request.auth = 1", "@request.auth needs a field name", 0],
    ['@request.method:lower = "get"', "@request.method takes no sub-fields or modifiers", 0],
    ['@request.query.x:each = "a"', ':each cannot be used on "@request.query.x"', 0],
    ["@request.body.nope:changed = true", ":changed cannot be used", 0],
    ["@request.body.title:length = 1", ":length only applies", 0],
    ["true:lower = 1", 'unknown field "true"', 0],
    ["meta..a = 1", "invalid identifier", 0],
  ])("%j → %s at %i", (filter, problem, position) => {
    const error = errorOf(filter);
    expect(error.code).toBe("FILTER_INVALID");
    expect(error.message).toContain(problem);
    expect(error.position).toBe(position);
  });

  it("rejects a bad context", () => {
    expect(() => filterToSql("a = 1", { dialect: "mysql" } as unknown as FilterContext)).toThrow(
      /unsupported dialect/,
    );
    expect(() =>
      filterToSql("a = 1", { dialect: "sqlite", fields: {} } as unknown as FilterContext),
    ).toThrow(/ctx.fields must be a Map/);
    expect(() => filterToSql("1 = 1", context("sqlite", { now: new Date(Number.NaN) }))).toThrow(
      /ctx.now/,
    );
  });

  it("rejects malformed hand-built trees", () => {
    const bad = [
      { kind: "not", position: 3 },
      { kind: "and", items: [], position: 0 },
      {
        kind: "comparison",
        operator: "==",
        left: { kind: "number", value: 1 },
        right: { kind: "number", value: 1 },
        position: 0,
      },
      {
        kind: "comparison",
        operator: "=",
        left: { kind: "string", value: 5 },
        right: { kind: "number", value: 1 },
        position: 0,
      },
      {
        kind: "comparison",
        operator: "=",
        left: { kind: "number", value: Number.POSITIVE_INFINITY },
        right: { kind: "number", value: 1 },
        position: 0,
      },
    ] as unknown as FilterExpr[];
    for (const node of bad)
      expect(() => compileFilter(node, context("sqlite"))).toThrow(FilterError);
  });

  it("refuses NUL in request values on PostgreSQL only", () => {
    const request = { body: { title: "a\0b", tags: ["x\0"] } };
    expect(
      errorOf("title = @request.body.title", context("postgres", { request })).message,
    ).toContain("NUL");
    expect(
      errorOf("tags ?= @request.body.tags", context("postgres", { request })).message,
    ).toContain("NUL");
    expect(() =>
      filterToSql("title = @request.body.title", context("sqlite", { request })),
    ).not.toThrow();
  });

  it("throws only FilterError, never something else, for nonsense contexts values", () => {
    const request = {
      auth: { id: 1n, when: new Date(0), cyclic: {} as Record<string, unknown>, fn: () => 1 },
      body: { big: 10n ** 30n, nan: Number.NaN, nested: [[{ a: [1] }]] },
      headers: { "X-A-B": "v" },
    };
    request.auth.cyclic.self = request.auth.cyclic;
    const ctx = context("sqlite", { request });
    for (const filter of [
      "@request.auth.id = 1",
      '@request.auth.when = "1970-01-01 00:00:00.000Z"',
      "@request.auth.cyclic = null",
      "@request.auth.fn = null",
      "@request.body.big != 1",
      "@request.body.nan = null",
      "@request.body.nested.0.0.a.0 = 1",
      '@request.headers.x_a_b = "v"',
    ]) {
      expect(() => filterToSql(filter, ctx)).not.toThrow();
    }
  });
});

describe("compiled SQL", () => {
  it("binds every value and quotes every identifier", () => {
    const { sql, parameters } = render(
      'odd = "x\' OR 1=1 --" && title ~ "%" && meta.a = 1 && @request.query.q = 1',
      context("sqlite", { request: { query: { q: "'; drop table items; --" } } }),
    );
    expect(sql).toContain('"odd ""col""; drop table items; --"');
    expect(sql).not.toContain("OR 1=1");
    expect(sql).not.toContain("drop table items; --'");
    expect(parameters).toEqual([
      "x' OR 1=1 --",
      "%",
      "$.a",
      "$.pb.a",
      1,
      "'; drop table items; --",
      1,
    ]);
  });

  it("is the same text for any non-empty string value", () => {
    const a = render('title = "a" && tags ?~ "b"');
    const b = render('title = "zzz \\" \' %_\\\\x" && tags ?~ "q"');
    expect(b.sql).toBe(a.sql);
  });

  it("uses PocketBase's forms for = and != with null and empty", () => {
    expect(render("title = ''").sql).toBe(`("title" = '' OR "title" IS NULL)`);
    expect(render("title != null").sql).toBe(`("title" IS NOT '' AND "title" IS NOT NULL)`);
    expect(render("title = 'x'").sql).toBe(`("title" = ?)`);
    expect(render("title != 'x'").sql).toBe(`("title" IS NOT ?)`);
    expect(render("title = author").sql).toBe(`(COALESCE("title", '') = COALESCE("author", ''))`);
    expect(render("'' = null").sql).toBe("(1 = 1)");
    expect(render("meta.a = null").sql).toContain("IS NULL");
    expect(render("title = 'x'", context("postgres")).sql).toBe(`("title" = CAST($1 AS TEXT))`);
    expect(render("title != 'x'", context("postgres")).sql).toBe(
      `("title" IS DISTINCT FROM CAST($1 AS TEXT))`,
    );
    expect(render("title < 'x'", context("postgres")).sql).toBe(
      `("title" COLLATE "C" < CAST($1 AS TEXT))`,
    );
  });

  it("escapes LIKE wildcards unless the value has its own %", () => {
    expect(render('title ~ "a_b"').parameters).toEqual(["%a\\_b%"]);
    expect(render('title ~ "a%b"').parameters).toEqual(["a%b"]);
    expect(render('title ~ "a\\%b"').parameters).toEqual(["%a\\%b%"]);
    expect(render('title ~ "__"').parameters).toEqual(["%\\_\\_%"]);
    expect(render('title ~ "a\\b"').parameters).toEqual(["%a\\\\b%"]);
    expect(render('title ~ "ABC"', context("postgres")).parameters).toEqual(["%abc%"]);
    // A pattern ending in a lone escape never matches (SQLite) instead of failing (PostgreSQL).
    const request = { query: { p: "x%\\" } };
    expect(render("title ~ @request.query.p", context("postgres", { request })).sql).toBe(
      `(CASE WHEN "title" IS NULL THEN NULL ELSE (1 = 0) END)`,
    );
  });

  it("qualifies columns with ctx.table", () => {
    expect(render("title = 'x'", context("sqlite", { table: "t" })).sql).toBe(`("t"."title" = ?)`);
  });

  it("wraps visibleWhen fields unless allowHidden", () => {
    expect(render("email = 'a'").sql).toBe(`(("email" = ?) AND ("emailVisibility" = 1))`);
    expect(render("email = 'a'", context("sqlite", { allowHidden: true })).sql).toBe(
      `("email" = ?)`,
    );
  });

  it("resolves macros from ctx.now", () => {
    const at = (iso: string, filter: string) =>
      render(filter, context("sqlite", { now: new Date(iso) })).parameters;
    expect(at("2024-02-10T05:06:07.089Z", "@now = 1")).toEqual(["2024-02-10 05:06:07.089Z", 1]);
    expect(at("2024-02-10T05:06:07.089Z", "@monthEnd = 1")[0]).toBe("2024-02-29 23:59:59.999Z");
    expect(at("2023-02-10T05:06:07.089Z", "@monthEnd = 1")[0]).toBe("2023-02-28 23:59:59.999Z");
    expect(at("2024-12-31T23:00:00.000Z", "@tomorrow = 1")[0]).toBe("2025-01-01 23:00:00.000Z");
    expect(at("2024-03-01T01:00:00.000Z", "@yesterday = 1")[0]).toBe("2024-02-29 01:00:00.000Z");
    expect(at("2024-02-10T05:06:07.089Z", "@todayStart = 1")[0]).toBe("2024-02-10 00:00:00.000Z");
    expect(at("2024-02-10T05:06:07.089Z", "@todayEnd = 1")[0]).toBe("2024-02-10 23:59:59.999Z");
    expect(at("2024-02-10T05:06:07.089Z", "@yearEnd = 1")[0]).toBe("2024-12-31 23:59:59.999Z");
    expect(
      at(
        "2024-02-10T05:06:07.089Z",
        "@second = @minute && @hour = @day && @month = @year && @weekday = 1",
      ),
    ).toEqual([7, 6, 5, 10, 2, 2024, 6, 1]);
    expect(render("@now = 1", context("sqlite", { now: NOW })).parameters[0]).toBe(
      "2025-06-15 12:00:00.000Z",
    );
  });

  it("compiles a parsed tree as filterToSql does", () => {
    const ctx = context("postgres");
    const tree = parseFilter("views > 1 || tags ?= 'a'");
    expect(compileFilter(tree, ctx).compile(postgres).sql).toBe(
      render("views > 1 || tags ?= 'a'", ctx).sql,
    );
  });
});
