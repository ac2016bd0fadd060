import { describe, expect, it } from "vitest";
import { type NotesDB, testHub } from "../helpers/hub.js";

describe("isolation between tenants", () => {
  it("what Alpha Co writes never appears in Beta Co", async () => {
    const { hub } = testHub();
    await hub.tenants.create("Alpha Co");
    await hub.tenants.create("Beta Co");
    const alpha = await hub.tenant<NotesDB>("Alpha Co");
    const beta = await hub.tenant<NotesDB>("Beta Co");
    await alpha.db.insertInto("notes").values({ body: "alpha secret" }).execute();
    expect(await beta.db.selectFrom("notes").selectAll().execute()).toEqual([]);
    await beta.db.insertInto("notes").values({ body: "beta secret" }).execute();
    expect(
      (await alpha.db.selectFrom("notes").select("body").execute()).map((r) => r.body),
    ).toEqual(["alpha secret"]);
    await hub.close();
  });

  it("many random operations on many tenants match a per-tenant model", async () => {
    const { hub } = testHub({ pool: { maxOpen: 8 } });
    const keys = Array.from({ length: 40 }, (_, i) => (i % 2 ? `Tenant ${i}` : `tenant ${i}`));
    const model = new Map<string, Map<number, string>>();
    for (const key of keys) {
      await hub.tenants.create(key);
      model.set(key, new Map());
    }
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ops: Promise<void>[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = keys[random(keys.length)]!;
      const rows = model.get(key)!;
      const kind = random(10);
      const id = random(50) + 1;
      // Model updates happen in issue order; the tenant queue applies them in the same order.
      if (kind < 6) {
        const body = `${key}#${i}`;
        rows.set(id, body);
        ops.push(
          hub.tenant<NotesDB>(key).then(async (t) => {
            await t.db
              .insertInto("notes")
              .values({ id, body })
              .onConflict((oc) => oc.column("id").doUpdateSet({ body }))
              .execute();
          }),
        );
      } else if (kind < 8) {
        rows.delete(id);
        ops.push(
          hub.tenant<NotesDB>(key).then(async (t) => {
            await t.db.deleteFrom("notes").where("id", "=", id).execute();
          }),
        );
      } else {
        ops.push(
          hub.tenant<NotesDB>(key).then(async (t) => {
            const rows = await t.db.selectFrom("notes").select("body").execute();
            for (const row of rows) expect(row.body.startsWith(`${key}#`)).toBe(true);
          }),
        );
      }
      if (ops.length >= 64) await Promise.all(ops.splice(0));
    }
    await Promise.all(ops);
    for (const key of keys) {
      const t = await hub.tenant<NotesDB>(key);
      const rows = await t.db.selectFrom("notes").selectAll().orderBy("id").execute();
      const expected = [...model.get(key)!]
        .sort((a, b) => a[0] - b[0])
        .map(([id, body]) => ({ id, body }));
      expect(rows).toEqual(expected);
    }
    await hub.close();
  });

  it("a handle keeps reaching only its own tenant across sleep and wake", async () => {
    const { hub } = testHub({ pool: { maxOpen: 1, idleTimeoutMs: 20 } });
    await hub.tenants.create("a");
    await hub.tenants.create("b");
    const a = await hub.tenant<NotesDB>("a");
    const b = await hub.tenant<NotesDB>("b"); // evicts "a" (maxOpen 1)
    await b.db.insertInto("notes").values({ body: "only b" }).execute();
    await a.db.insertInto("notes").values({ body: "only a" }).execute(); // wakes "a" again
    await new Promise((resolve) => setTimeout(resolve, 100)); // both sleep
    expect(hub.stats().open).toBe(0);
    expect(await a.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "only a" }]);
    expect(await b.db.selectFrom("notes").select("body").execute()).toEqual([{ body: "only b" }]);
    await hub.close();
  });
});
