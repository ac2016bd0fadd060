import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilterError, parseSort, type SortItem } from "../../../src/collections/filter/index.js";
import { context, DIALECTS, type TestDb } from "./fixtures.js";

const orderBys = (items: SortItem[]) => items.map((item) => item.orderBy);

const CASES: Array<[string, string[]]> = [
  ["-views", ["r6", "r1", "r2", "r3", "r5", "r4"]],
  ["views", ["r4", "r5", "r3", "r2", "r1", "r6"]],
  ["+views", ["r4", "r5", "r3", "r2", "r1", "r6"]],
  // NULL first ascending, then byte order (as SQLite's BINARY collation).
  ["title", ["r4", "r3", "r5", "r1", "r2", "r6"]],
  ["-title", ["r6", "r2", "r1", "r5", "r3", "r4"]],
  ["title:lower,id", ["r4", "r3", "r5", "r2", "r1", "r6"]],
  // JSON values order NULL < numbers < text.
  ["meta.n,id", ["r3", "r4", "r5", "r1", "r6", "r2"]],
  ["-meta.n,id", ["r2", "r6", "r1", "r3", "r4", "r5"]],
  ["tags:length, -id", ["r4", "r3", "r6", "r2", "r1", "r5"]],
  [" +active , -created ", ["r4", "r3", "r2", "r5", "r1", "r6"]],
];

describe.each(DIALECTS)("sorting on %s", (dialect, open) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await open();
  });
  afterAll(async () => {
    await t.close();
  });

  it.each(CASES)("%s", async (sort, expected) => {
    expect(await t.ordered(orderBys(parseSort(sort, context(dialect))))).toEqual(expected);
  });

  it("@random returns every row", async () => {
    const items = parseSort("@random", context(dialect));
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ random: true });
    expect((await t.ordered(orderBys(items))).sort()).toEqual(["r1", "r2", "r3", "r4", "r5", "r6"]);
  });

  it("sorts hidden fields for superusers only", async () => {
    expect(() => parseSort("secret", context(dialect))).toThrow(FilterError);
    const items = parseSort("-secret", context(dialect, { allowHidden: true }));
    expect(await t.ordered(orderBys(items))).toEqual(["r6", "r5", "r2", "r1", "r3", "r4"]);
  });

  it("describes each term", () => {
    const [first, second] = parseSort("-title,meta.a.b", context(dialect));
    expect(first).toMatchObject({ column: "title", direction: "desc" });
    expect(second).toMatchObject({ column: "meta", direction: "asc" });
  });
});

describe("parseSort", () => {
  it("supports @rowid on SQLite only", async () => {
    const [lite] = DIALECTS;
    const t = await lite[1]();
    try {
      const items = parseSort("-@rowid", context("sqlite"));
      expect(items[0]).toMatchObject({ column: "_rowid_", direction: "desc" });
      expect(await t.ordered(orderBys(items))).toEqual(["r6", "r5", "r4", "r3", "r2", "r1"]);
    } finally {
      await t.close();
    }
    expect(() => parseSort("@rowid", context("postgres"))).toThrow(/only available on SQLite/);
  });

  it("returns nothing for an empty sort", () => {
    expect(parseSort("", context("sqlite"))).toEqual([]);
    expect(parseSort("   ", context("sqlite"))).toEqual([]);
  });

  it.each([
    ["nope", 'unknown field "nope"', 0],
    ["title,nope", 'unknown field "nope"', 6],
    ["title, -nope", 'unknown field "nope"', 8],
    ["title,,id", "empty sort field", 6],
    ["-", "empty sort field", 0],
    ["secret", "cannot be filtered or sorted", 0],
    ["author.name", "relation traversal", 0],
    ["title desc", "invalid sort field", 0],
    ["@request.auth.id", "invalid sort field", 0],
    ["@now", "invalid sort field", 0],
    ["'title'", "invalid sort field", 0],
    ["true", '"true" is not a field', 0],
    ["tags:each", "cannot sort by", 0],
    ["title:nope", 'unknown modifier ":nope"', 5],
    ["a,b,c,d,e,f,g,h,i", "more than 8 sort fields", 16],
    [`${"a".repeat(256)}`, "longer than 255", 0],
  ])("rejects %j: %s at %i", (sort, problem, position) => {
    try {
      parseSort(sort, context("sqlite"));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FilterError);
      expect((error as FilterError).message).toContain(problem);
      expect((error as FilterError).position).toBe(position);
    }
  });

  it("takes custom limits", () => {
    expect(() => parseSort("id,title", context("sqlite"), { maxFields: 1 })).toThrow(/more than 1/);
    expect(() => parseSort("title", context("sqlite"), { maxFieldLength: 3 })).toThrow(
      /longer than 3/,
    );
  });
});
