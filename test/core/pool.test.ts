import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PoolTimeout, sqlite } from "../../src/index.js";
import { countingDriver, type NotesDB, type OpenCounter, testHub } from "../helpers/hub.js";

function openFilesUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(join("/proc/self/fd", fd)).startsWith(join(dir, "tenants"))) n++;
    } catch {
      // The fd closed while we looked.
    }
  }
  return n;
}

describe("pool", () => {
  it("keeps at most maxOpen tenants open among 1,000 used at random, data intact", async () => {
    let counter!: OpenCounter;
    const { hub, dir } = testHub({
      pool: { maxOpen: 10, idleTimeoutMs: 60_000 },
      driver: (d) => {
        const counted = countingDriver(sqlite({ dir: d }));
        counter = counted.counter;
        return counted.driver;
      },
    });
    const keys = Array.from({ length: 1000 }, (_, i) => `tenant-${i}`);
    for (const key of keys) await hub.tenants.create(key);
    const written = new Map<string, number>();
    let maxFds = 0;
    // Random use, up to 25 operations in flight at once.
    for (let round = 0; round < 80; round++) {
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          const key = keys[Math.floor(Math.random() * keys.length)]!;
          const t = await hub.tenant<NotesDB>(key);
          await t.transaction(async (trx) => {
            await trx.insertInto("notes").values({ body: key }).execute();
          });
          written.set(key, (written.get(key) ?? 0) + 1);
          expect(hub.stats().open).toBeLessThanOrEqual(10);
        }),
      );
      maxFds = Math.max(maxFds, openFilesUnder(dir));
    }
    expect(counter.maxOpen).toBeLessThanOrEqual(10);
    expect(counter.open).toBeLessThanOrEqual(10);
    // db, -wal and -shm per open tenant.
    expect(maxFds).toBeLessThanOrEqual(30);
    for (const key of keys) {
      const t = await hub.tenant<NotesDB>(key);
      const rows = await t.db.selectFrom("notes").select("body").execute();
      expect(rows.length).toBe(written.get(key) ?? 0);
      for (const row of rows) expect(row.body).toBe(key);
    }
    expect(counter.maxOpen).toBeLessThanOrEqual(10);
    await hub.close();
    expect(counter.open).toBe(0);
  });

  it("closes idle tenants after idleTimeoutMs", async () => {
    const { hub, dir } = testHub({ pool: { maxOpen: 100, idleTimeoutMs: 50 } });
    for (let i = 0; i < 20; i++) {
      await hub.tenants.create(`t${i}`);
      await (await hub.tenant(`t${i}`)).db.selectFrom("notes").selectAll().execute();
    }
    expect(hub.stats().open).toBe(20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hub.stats().open).toBe(0);
    expect(openFilesUnder(dir)).toBe(0);
    await hub.close();
  });

  it("never closes a tenant under an in-flight transaction", async () => {
    const { hub } = testHub({ pool: { maxOpen: 1, idleTimeoutMs: 10, acquireTimeoutMs: 5000 } });
    await hub.tenants.create("busy");
    await hub.tenants.create("other");
    const busy = await hub.tenant<NotesDB>("busy");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inFlight = busy.transaction(async (trx) => {
      await trx.insertInto("notes").values({ body: "first" }).execute();
      await gate; // idle timer fires and "other" asks for the only slot meanwhile
      await trx.insertInto("notes").values({ body: "second" }).execute();
    });
    const other = hub.tenant("other");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hub.stats().open).toBe(1);
    release();
    await inFlight;
    await other;
    expect((await busy.db.selectFrom("notes").select("body").execute()).map((r) => r.body)).toEqual(
      ["first", "second"],
    );
    await hub.close();
  });

  it("times out with PoolTimeout when every open tenant stays in use", async () => {
    const { hub } = testHub({ pool: { maxOpen: 1, acquireTimeoutMs: 100 } });
    await hub.tenants.create("holder");
    await hub.tenants.create("waiter");
    const holder = await hub.tenant("holder");
    let release!: () => void;
    const held = holder.transaction(
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
        }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(hub.tenant("waiter")).rejects.toThrow(PoolTimeout);
    release();
    await held;
    await expect(hub.tenant("waiter")).resolves.toBeDefined();
    await hub.close();
  });
});
