/**
 * Collections on PostgreSQL shared by two hubs (standing for two server
 * processes): a change through one is used by the other without a restart,
 * and changes through both at once are numbered one after the other, so
 * both build the same tenant migrations. multiprocess-collections.test.ts
 * does the same through two real `tenantbase serve` processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AttachedCollections,
  attachCollections,
  SUPERUSER,
} from "../../src/collections/index.js";
import { postgres } from "../../src/drivers/postgres/index.js";
import { createTenantbase, type Tenantbase } from "../../src/index.js";
import { waitFor } from "../helpers/wait.js";
import { type ThrowawayDatabase, throwawayDatabase } from "./pg-fixture.js";

let db: ThrowawayDatabase;
const hubs: Tenantbase[] = [];

async function node(): Promise<AttachedCollections & { hub: Tenantbase; errors: string[] }> {
  const errors: string[] = [];
  const hub = createTenantbase({
    driver: postgres({ url: db.url, max: 6, spares: 0 }),
    onError: (error, context) => errors.push(`${context}: ${String(error)}`),
  });
  hubs.push(hub);
  return { hub, errors, ...(await attachCollections(hub)) };
}

beforeAll(async () => {
  db = await throwawayDatabase();
});

afterAll(async () => {
  for (const hub of hubs) await hub.close().catch(() => {});
  await db?.drop();
});

describe("collections shared by two hubs on PostgreSQL", () => {
  it("uses one hub's changes on the other at once, and serialises changes through both", async () => {
    const a = await node();
    const b = await node();
    expect(a.hub.peers.shared).toBe(true);
    await a.hub.tenants.create("acme");
    // B has the tenant open (and migrated) before the change.
    await b.hub.tenant("acme");

    await a.collections.create({ name: "posts", fields: [{ name: "title", type: "text" }] });
    await waitFor("posts on B", () => b.collections.get("posts"));
    expect(b.collections.version).toBe(a.collections.version);
    const posts = b.collections.require("posts");
    const created = await b.records.create(await b.hub.tenant("acme"), posts, SUPERUSER, {
      title: "through B",
    });
    expect(created.title).toBe("through B");
    // Nothing new: a reload changes nothing.
    expect(await b.collections.reload()).toBe(false);

    // Both at once, from a view each (the loser plans again on the catalog's latest).
    await Promise.all([
      a.collections.create({ name: "tags", fields: [{ name: "label", type: "text" }] }),
      b.collections.update("posts", { fields: [{ name: "views", type: "number" }] }),
      b.collections.create({ name: "links", fields: [{ name: "url", type: "text" }] }),
    ]);
    await waitFor(
      "the same version on both",
      () =>
        a.collections.version === b.collections.version &&
        a.collections.list().length === 3 &&
        b.collections.list().length === 3,
    );
    const names = (side: AttachedCollections) => side.collections.migrations().map((m) => m.name);
    expect(names(a)).toEqual(names(b));
    expect(names(a)).toHaveLength(4);
    expect(names(a).map((name) => name.slice(0, 5))).toEqual(["0001_", "0002_", "0003_", "0004_"]);
    for (const side of [a, b]) {
      const handle = await side.hub.tenant("acme");
      await side.records.create(handle, side.collections.require("posts"), SUPERUSER, {
        title: "views",
        views: 2,
      });
      await side.records.create(handle, side.collections.require("links"), SUPERUSER, {
        url: "https://example.test",
      });
    }

    // A rules-only change (no migration) and a delete.
    await b.collections.update("tags", { listRule: "" });
    await waitFor("the rule on A", () => a.collections.get("tags")?.rules.listRule === "");
    await a.collections.delete("links");
    await waitFor("links gone on B", () => !b.collections.get("links"));
    expect(names(b)).toEqual(names(a));
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});
