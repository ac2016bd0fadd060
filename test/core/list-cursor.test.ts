/**
 * `hub.tenants.list` pages by a `(key, id)` row-value cursor (an index range
 * on SQLite and PostgreSQL alike): the pages, whatever their size, must be
 * exactly the whole ordered list, including deleted tenants that share a key
 * (ordered by id).
 */
import { afterEach, describe, expect, it } from "vitest";
import { createTenantbase, type Tenantbase } from "../../src/index.js";
import { postgresFixture } from "../drivers/pg-fixture.js";
import { notesMigration, testHub } from "../helpers/hub.js";

const KEYS = [
  "b",
  "a",
  "A",
  "a b",
  "a-b",
  "ab",
  "Zed",
  "zed",
  "ä",
  "émile",
  "10",
  "9",
  "x".repeat(70),
  ...Array.from({ length: 17 }, (_, i) => `t${String(i).padStart(3, "0")}`),
];

async function pages(
  hub: Tenantbase,
  limit: number,
  status?: "deleted" | "active",
): Promise<Array<[string, string]>> {
  const seen: Array<[string, string]> = [];
  let cursor: string | null = null;
  let count = 0;
  do {
    const page = await hub.tenants.list({ limit, cursor, ...(status ? { status } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seen.push(...page.items.map((t): [string, string] => [t.key, t.createdAt.toISOString()]));
    cursor = page.nextCursor;
    if (++count > 1000) throw new Error("the cursor does not advance");
  } while (cursor);
  return seen;
}

async function exercise(hub: Tenantbase): Promise<void> {
  for (const key of KEYS) await hub.tenants.create(key);
  // Three deleted tenants with the same key: only the id orders them.
  for (let i = 0; i < 3; i++) {
    await hub.tenants.create("gone");
    await hub.tenants.delete("gone");
  }
  const all = (await hub.tenants.list({ limit: 1000 })).items.map((t) => t.key);
  expect([...all].sort()).toEqual([...KEYS].sort());
  const whole = await pages(hub, 1000);
  for (const limit of [1, 2, 3, 7, KEYS.length - 1, KEYS.length, KEYS.length + 1]) {
    expect(await pages(hub, limit)).toEqual(whole);
    expect(await pages(hub, limit, "active")).toEqual(whole);
  }
  const deleted = await hub.tenants.list({ status: "deleted", limit: 1000 });
  expect(deleted.items.map((t) => t.key)).toEqual(["gone", "gone", "gone"]);
  const deletedIds = deleted.items.map((t) => t.archivePath);
  const oneByOne: Array<string | null | undefined> = [];
  let cursor: string | null = null;
  do {
    const page = await hub.tenants.list({ status: "deleted", limit: 1, cursor });
    oneByOne.push(...page.items.map((t) => t.archivePath));
    cursor = page.nextCursor;
  } while (cursor);
  expect(oneByOne).toEqual(deletedIds);
  expect(new Set(oneByOne).size).toBe(3);
}

describe("tenant list cursor", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("pages through every tenant exactly once on SQLite", async () => {
    const { hub } = testHub();
    cleanups.push(() => hub.close());
    await exercise(hub);
  });

  it("pages through every tenant exactly once on PostgreSQL", async () => {
    const store = await postgresFixture.fresh({ spares: 2 });
    cleanups.push(() => store.dispose());
    const hub = createTenantbase({ driver: store.driver(), migrations: [notesMigration] });
    cleanups.push(() => hub.close());
    await exercise(hub);
  }, 120_000);
});
