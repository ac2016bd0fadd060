import { describe, expect, it } from "vitest";
import { NestedTenantAccess } from "../../src/index.js";
import { type NotesDB, testHub } from "../helpers/hub.js";

describe("per-tenant write queue", () => {
  it("runs 1,000 concurrent transactions on one tenant one at a time, in order, none busy", async () => {
    const { hub } = testHub();
    await hub.tenants.create("hot");
    const t = await hub.tenant<NotesDB>("hot");
    let running = 0;
    let maxRunning = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_, i) =>
        t.transaction(async (trx) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          const count = await trx
            .selectFrom("notes")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow();
          await new Promise((resolve) => setImmediate(resolve)); // yield mid-transaction
          await trx
            .insertInto("notes")
            .values({ id: i + 1, body: `seq ${count.n}` })
            .execute();
          running--;
        }),
      ),
    );
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    expect(maxRunning).toBe(1);
    const rows = await t.db.selectFrom("notes").selectAll().orderBy("id").execute();
    expect(rows.length).toBe(1000);
    // Each transaction saw exactly the ones before it: arrival order = commit order.
    expect(rows.map((row) => row.body)).toEqual(rows.map((_, i) => `seq ${i}`));
    await hub.close();
  });

  it("does not block other tenants behind one tenant's slow transaction", async () => {
    const { hub } = testHub();
    await hub.tenants.create("slow");
    await hub.tenants.create("fast");
    const slow = await hub.tenant<NotesDB>("slow");
    const fast = await hub.tenant<NotesDB>("fast");
    let finish!: () => void;
    const slowDone = slow.transaction(async (trx) => {
      await trx.insertInto("notes").values({ body: "slow" }).execute();
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Reads and writes on another tenant complete while "slow" holds its transaction.
    await fast.db.insertInto("notes").values({ body: "fast" }).execute();
    await fast.transaction(async (trx) => {
      await trx.insertInto("notes").values({ body: "fast 2" }).execute();
    });
    expect((await fast.db.selectFrom("notes").selectAll().execute()).length).toBe(2);
    finish();
    await slowDone;
    await hub.close();
  });

  it("a read on the same tenant waits for the open transaction and never sees its uncommitted rows", async () => {
    const { hub } = testHub();
    await hub.tenants.create("t");
    const t = await hub.tenant<NotesDB>("t");
    let finish!: () => void;
    const tx = t.transaction(async (trx) => {
      await trx.insertInto("notes").values({ body: "draft" }).execute();
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      throw new Error("abandon");
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const read = t.db.selectFrom("notes").selectAll().execute();
    finish();
    await expect(tx).rejects.toThrow("abandon");
    expect(await read).toEqual([]);
    await hub.close();
  });

  it("reports handle.db used inside its own transaction instead of deadlocking", async () => {
    const { hub } = testHub();
    await hub.tenants.create("t");
    const t = await hub.tenant<NotesDB>("t");
    await expect(
      t.transaction(async () => {
        await t.db.selectFrom("notes").selectAll().execute();
      }),
    ).rejects.toThrow(NestedTenantAccess);
    await expect(t.transaction(async () => t.transaction(async () => 1))).rejects.toThrow(
      NestedTenantAccess,
    );
    // The tenant is still usable afterwards.
    await t.db.insertInto("notes").values({ body: "after" }).execute();
    await hub.close();
  });
});
