/**
 * cold-wake: the first request to a sleeping tenant, in process: `await
 * hub.tenant(key)` (catalog lookup, open, migration check) and one point
 * read, timed one by one over many sleeping tenants. For context, the naive
 * way to reach a closed tenant: open its file, read, close.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { type Scenario, settle } from "../lib/context.js";
import { openHub, seedTenants, tenantFile, tenantKey } from "../lib/fixtures.js";
import { metric } from "../lib/report.js";
import { msSince, mulberry32, percentile } from "../lib/stats.js";

const WARMERS = 100;

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export const coldWake: Scenario = {
  name: "cold-wake",
  async run(ctx) {
    const tenants = ctx.quick ? 300 : 1000;
    const rounds = ctx.quick ? 2 : 3;
    const dir = join(ctx.dir, "tb");
    const seeding = openHub(dir);
    await seedTenants(seeding, tenants + WARMERS, 100, ctx.log);
    const files = Array.from({ length: tenants }, (_, i) => tenantFile(seeding, tenantKey(i)));
    await seeding.close();
    const wakes: number[] = [];
    const naive: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // A fresh hub: every tenant asleep (closed), the catalog warm after the warmers.
      const hub = openHub(dir, { pool: { maxOpen: tenants + WARMERS, idleTimeoutMs: 0 } });
      await hub.ready();
      for (let w = 0; w < WARMERS; w++) {
        const handle = await hub.tenant(tenantKey(tenants + w));
        await handle.db.selectFrom("items").selectAll().where("id", "=", 1).executeTakeFirst();
      }
      await settle();
      for (const i of shuffled(tenants, round)) {
        const started = process.hrtime.bigint();
        const handle = await hub.tenant(tenantKey(i));
        const row = await handle.db
          .selectFrom("items")
          .select(["id", "name"])
          .where("id", "=", 1 + (i % 100))
          .executeTakeFirst();
        wakes.push(msSince(started));
        if (!row) throw new Error("missing row");
      }
      await hub.close();
      await settle();
      for (const i of shuffled(tenants, round + 100)) {
        const started = process.hrtime.bigint();
        const db = new BetterSqlite3(files[i]!, { fileMustExist: true });
        db.pragma("synchronous = NORMAL");
        db.pragma("busy_timeout = 5000");
        const row = db.prepare("select id, name from items where id = ?").get(1 + (i % 100));
        db.close();
        naive.push(msSince(started));
        if (!row) throw new Error("missing row");
      }
    }
    return [
      metric({
        scenario: "cold-wake",
        name: "first request to a sleeping tenant, p99",
        value: percentile(wakes, 99),
        unit: "ms",
        baseline: percentile(naive, 99),
        baselineName: "open+read+close p99",
        target: { on: "value", op: "<=", threshold: 2 },
        notes: `${tenants} sleeping tenants x ${rounds} rounds (${wakes.length} wakes): p50 ${percentile(wakes, 50).toFixed(3)} ms, p90 ${percentile(wakes, 90).toFixed(3)} ms, max ${Math.max(...wakes).toFixed(2)} ms; naive open+read+close p50 ${percentile(naive, 50).toFixed(3)} ms (it closes again, Tenantbase keeps the tenant open)`,
      }),
      metric({
        scenario: "cold-wake",
        name: "first request to a sleeping tenant, p50",
        value: percentile(wakes, 50),
        unit: "ms",
        baseline: percentile(naive, 50),
        baselineName: "open+read+close p50",
      }),
    ];
  },
};
