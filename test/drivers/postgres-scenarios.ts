/**
 * Scenarios run both directly on PostgreSQL and through PgBouncer: no
 * session state leaks between tenants, and one writer per tenant across
 * processes with no global lock.
 */
import { sql } from "kysely";
import { expect } from "vitest";
import { type Migration, storageName, type Tenantbase } from "../../src/index.js";
import type { NotesDB } from "./conformance.js";

/**
 * `rounds` rounds of concurrent operations on every key's tenant (over a
 * hub with the notes migration and a small pool): writes, transactions that
 * wait inside, failing statements and transactions. Every read sees only its
 * own tenant's rows and schema, and every tenant ends with exactly what was
 * written to it. Returns how many operations ran.
 */
export async function expectNoSessionLeak(
  hub: Tenantbase,
  keys: readonly string[],
  rounds: number,
): Promise<number> {
  for (const key of keys) await hub.tenants.create(key);
  const written = new Map<string, string[]>(keys.map((key) => [key, []]));
  const operations: Promise<void>[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [i, key] of keys.entries()) {
      const body = `${key}/${round}`;
      written.get(key)!.push(body);
      operations.push(
        (async () => {
          const t = await hub.tenant<NotesDB>(key);
          if ((round + i) % 3 === 0) {
            await t.transaction(async (trx) => {
              await trx
                .insertInto("notes")
                .values({ id: String(round), body })
                .execute();
              // Another tenant's transaction may run on another connection meanwhile.
              await new Promise((resolve) => setTimeout(resolve, 1));
              const rows = await trx.selectFrom("notes").select("body").execute();
              for (const row of rows) expect(row.body.startsWith(`${key}/`)).toBe(true);
            });
          } else {
            await t.db
              .insertInto("notes")
              .values({ id: String(round), body })
              .execute();
          }
          if ((round * 7 + i) % 5 === 0) {
            // Failing statements and transactions hand their connection back clean too.
            await expect(
              t.db
                .insertInto("notes")
                .values({ id: String(round), body })
                .execute(),
            ).rejects.toThrow(/duplicate key/);
            await expect(
              t.transaction(async (trx) => {
                await trx
                  .insertInto("notes")
                  .values({ id: `x${round}`, body })
                  .execute();
                await trx
                  .insertInto("notes")
                  .values({ id: String(round), body })
                  .execute();
              }),
            ).rejects.toThrow(/duplicate key/);
          }
          const rows = await t.db.selectFrom("notes").select("body").execute();
          for (const row of rows) expect(row.body.startsWith(`${key}/`)).toBe(true);
          const { rows: schema } = await sql<{ s: string }>`select current_schema() as s`.execute(
            t.db,
          );
          expect(schema[0]?.s).toBe(storageName(key));
        })(),
      );
    }
  }
  await Promise.all(operations);
  for (const key of keys) {
    const t = await hub.tenant<NotesDB>(key);
    const rows = await t.db.selectFrom("notes").select("body").orderBy("body").execute();
    expect(rows.map((r) => r.body)).toEqual([...written.get(key)!].sort());
  }
  return operations.length;
}

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
