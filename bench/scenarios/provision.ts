/**
 * provision: `hub.tenants.create(key)` one after another, each tenant at the
 * current schema version (two migrations), catalog row and database file.
 */
import { join } from "node:path";
import { type Scenario, settle } from "../lib/context.js";
import { ITEMS_V1, ITEMS_V2, openHub } from "../lib/fixtures.js";
import { metric } from "../lib/report.js";
import { median, msSince, percentile } from "../lib/stats.js";

export const provision: Scenario = {
  name: "provision",
  async run(ctx) {
    const perRound = ctx.quick ? 500 : 2000;
    const rounds = ctx.quick ? 2 : 3;
    const hub = openHub(join(ctx.dir, "tb"), { migrations: [ITEMS_V1, ITEMS_V2] });
    await hub.ready();
    try {
      // Warm-up: builds the template, JIT.
      for (let i = 0; i < 200; i++) await hub.tenants.create(`warm-${i}`);
      const rates: number[] = [];
      const latencies: number[] = [];
      for (let round = 0; round < rounds; round++) {
        await settle();
        const started = process.hrtime.bigint();
        for (let i = 0; i < perRound; i++) {
          const one = process.hrtime.bigint();
          await hub.tenants.create(`round-${round}-tenant-${i}`);
          latencies.push(msSince(one));
        }
        rates.push(perRound / (msSince(started) / 1000));
      }
      const version = (await hub.tenants.get("round-0-tenant-0")).schemaVersion;
      if (version !== 2) throw new Error(`provisioned at version ${version}, expected 2`);
      return [
        metric({
          scenario: "provision",
          name: "tenants created per second",
          value: median(rates),
          unit: "tenants/s",
          target: { on: "value", op: ">=", threshold: 1000 },
          notes: `${rounds} rounds of ${perRound} sequential creates at schema version 2; per-round ${rates.map((r) => r.toFixed(0)).join(", ")}`,
        }),
        metric({
          scenario: "provision",
          name: "create latency p99",
          value: percentile(latencies, 99),
          unit: "ms",
          notes: `p50 ${percentile(latencies, 50).toFixed(3)} ms`,
        }),
      ];
    } finally {
      await hub.close();
    }
  },
};
