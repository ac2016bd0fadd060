/**
 * One writer per tenant across processes, with a lock per tenant and no
 * global one: the same scenario directly on PostgreSQL and through PgBouncer.
 */
import { expect } from "vitest";
import type { Migration, Tenantbase } from "../../src/index.js";

/** A tenant schema with one counter row. */
export const counterMigration: Migration = {
  name: "0001_counter",
  async up(db) {
    await db.schema
      .createTable("counter")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("n", "integer", (c) => c.notNull())
      .execute();
    await db.insertInto("counter").values({ id: 1, n: 0 }).execute();
  },
};

/**
 * `one` and `two` are hubs over the same database with `counterMigration`
 * (as two server processes). Read-modify-write from both never loses an
 * update; while `one` holds "shared", `two` writes "elsewhere" within
 * `otherTenantWithinMs` but waits for "shared".
 */
export async function expectOneWriterPerTenant(
  one: Tenantbase,
  two: Tenantbase,
  { otherTenantWithinMs = 1000 }: { otherTenantWithinMs?: number } = {},
): Promise<void> {
  await one.tenants.create("shared");
  await one.tenants.create("elsewhere");
  const increment = async (hub: Tenantbase) => {
    const t = await hub.tenant("shared");
    await t.transaction(async (trx) => {
      const row = await trx
        .selectFrom("counter")
        .select("n")
        .where("id", "=", 1)
        .executeTakeFirstOrThrow();
      await new Promise((resolve) => setTimeout(resolve, 3));
      await trx
        .updateTable("counter")
        .set({ n: Number(row.n) + 1 })
        .where("id", "=", 1)
        .execute();
    });
  };
  await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 === 0 ? one : two)));
  const counted = await (await one.tenant("shared")).db
    .selectFrom("counter")
    .select("n")
    .executeTakeFirstOrThrow();
  // Without the lock, read-modify-write from two processes loses updates.
  expect(Number(counted.n)).toBe(20);

  // Wake both tenants on both hubs first: what is left below is the lock itself.
  for (const hub of [one, two]) for (const key of ["shared", "elsewhere"]) await hub.tenant(key);
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const holding = (await one.tenant("shared")).transaction(async (trx) => {
    await trx.updateTable("counter").set({ n: 0 }).execute();
    await held;
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = Date.now();
  await (await two.tenant("elsewhere")).transaction(async (trx) => {
    await trx.updateTable("counter").set({ n: 5 }).execute();
  });
  expect(Date.now() - started).toBeLessThan(otherTenantWithinMs);
  let sharedDone = false;
  const blocked = (await two.tenant("shared"))
    .transaction(async (trx) => {
      await trx.updateTable("counter").set({ n: 7 }).execute();
    })
    .then(() => {
      sharedDone = true;
    });
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(sharedDone).toBe(false);
  release();
  await holding;
  await blocked;
  expect(sharedDone).toBe(true);
  const final = await (await one.tenant("shared")).db
    .selectFrom("counter")
    .select("n")
    .executeTakeFirstOrThrow();
  expect(Number(final.n)).toBe(7);
}
