import { describe, expect, it } from "vitest";
import type { TenantEvent } from "../../src/index.js";
import { type NotesDB, testHub } from "../helpers/hub.js";

describe("events", () => {
  it("are delivered after commit, in commit order, to the tenant's subscribers only", async () => {
    const { hub } = testHub();
    await hub.tenants.create("alpha");
    await hub.tenants.create("beta");
    const alphaEvents: TenantEvent[] = [];
    const betaEvents: TenantEvent[] = [];
    hub.subscribe("alpha", (e) => alphaEvents.push(e));
    hub.subscribe("beta", (e) => betaEvents.push(e));
    const alpha = await hub.tenant<NotesDB>("alpha");
    let seenDuringTransaction = -1;
    await alpha.transaction(async (trx) => {
      await trx.insertInto("notes").values({ body: "one" }).execute();
      alpha.broadcast("noteAdded", { body: "one" });
      await new Promise((resolve) => setTimeout(resolve, 5));
      seenDuringTransaction = alphaEvents.length;
    });
    expect(seenDuringTransaction).toBe(0);
    expect(alphaEvents.map((e) => [e.tenant, e.name, e.payload])).toEqual([
      ["alpha", "noteAdded", { body: "one" }],
    ]);
    expect(betaEvents).toEqual([]);

    // Concurrent transactions: events arrive in the order the transactions committed.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        alpha.transaction(async (trx) => {
          const { n } = await trx
            .selectFrom("notes")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow();
          await trx
            .insertInto("notes")
            .values({ body: `n${i}` })
            .execute();
          alpha.broadcast("counted", n);
          await new Promise((resolve) => setImmediate(resolve));
          alpha.broadcast("counted again", n);
        }),
      ),
    );
    const counted = alphaEvents.slice(1).map((e) => [e.name, e.payload]);
    const expected = Array.from({ length: 50 }, (_, i) => [
      ["counted", i + 1],
      ["counted again", i + 1],
    ]).flat();
    expect(counted).toEqual(expected);
    expect(betaEvents).toEqual([]);
    await hub.close();
  });

  it("are dropped when the transaction rolls back", async () => {
    const { hub } = testHub();
    await hub.tenants.create("alpha");
    const events: TenantEvent[] = [];
    hub.subscribe("alpha", (e) => events.push(e));
    const alpha = await hub.tenant<NotesDB>("alpha");
    await expect(
      alpha.transaction(async (trx) => {
        await trx.insertInto("notes").values({ body: "doomed" }).execute();
        alpha.broadcast("noteAdded", { body: "doomed" });
        throw new Error("nope");
      }),
    ).rejects.toThrow("nope");
    // A constraint failure rolls back too.
    await expect(
      alpha.transaction(async (trx) => {
        alpha.broadcast("noteAdded", { body: "null" });
        await trx
          .insertInto("notes")
          .values({ body: null as unknown as string })
          .execute();
      }),
    ).rejects.toThrow();
    expect(events).toEqual([]);
    expect(await alpha.db.selectFrom("notes").selectAll().execute()).toEqual([]);
    await hub.close();
  });

  it("outside a transaction are delivered at once; unsubscribe stops them; a throwing listener hurts nobody", async () => {
    const { hub } = testHub();
    await hub.tenants.create("alpha");
    const alpha = await hub.tenant("alpha");
    const seen: unknown[] = [];
    hub.subscribe("alpha", () => {
      throw new Error("listener bug");
    });
    const off = hub.subscribe("alpha", (e) => seen.push(e.payload));
    alpha.broadcast("ping", 1);
    off();
    alpha.broadcast("ping", 2);
    expect(seen).toEqual([1]);
    await hub.close();
  });
});
