/**
 * fleet-migrate: add a column with an index to N tenants. Tenantbase's
 * `hub.migrations.run()` (worker threads, one per core, outcomes in the
 * catalog) against a sequential loop of Kysely Migrators over tenant files.
 * Between rounds both go back to version 1 (rollback; migrateTo), unmeasured.
 */
import { join } from "node:path";
import {
  makeKyselyFleet,
  migrateSequentially,
  revertSequentially,
} from "../baselines/kysely-migrator.js";
import { type Scenario, settle } from "../lib/context.js";
import { ITEMS_V1, ITEMS_V2, openHub, seedTenants } from "../lib/fixtures.js";
import { metric } from "../lib/report.js";
import { interleave, median, msSince } from "../lib/stats.js";

const ROWS = 10;

export const fleetMigrate: Scenario = {
  name: "fleet-migrate",
  async run(ctx) {
    const tenants = ctx.quick ? 200 : 10_000;
    const baselineTenants = ctx.quick ? 100 : 500;
    const rounds = ctx.quick ? 1 : 2;
    const dir = join(ctx.dir, "tb");
    const seeding = openHub(dir, { migrations: [ITEMS_V1] });
    await seedTenants(seeding, tenants, ROWS, ctx.log);
    await seeding.close();
    const files = await makeKyselyFleet(join(ctx.dir, "kysely"), baselineTenants, ROWS);
    const hub = openHub(dir, { migrations: [ITEMS_V1, ITEMS_V2] });
    await hub.ready();
    try {
      const notes: string[] = [];
      const rollbackRates: number[] = [];
      const pairs = await interleave(
        rounds,
        async () => {
          await settle();
          const started = process.hrtime.bigint();
          const run = await hub.migrations.run();
          const ms = msSince(started);
          if (run.status !== "completed" || run.counts.migrated !== tenants) {
            throw new Error(`fleet run ended ${run.status}: ${JSON.stringify(run.counts)}`);
          }
          notes.push(`${(ms / 1000).toFixed(2)} s`);
          const rollbackStarted = process.hrtime.bigint();
          const back = await hub.migrations.rollback(run.id);
          if (back.counts.rolledBack !== tenants) {
            throw new Error(`rollback: ${JSON.stringify(back.counts)}`);
          }
          rollbackRates.push(tenants / (msSince(rollbackStarted) / 1000));
          return tenants / (ms / 1000);
        },
        async () => {
          await settle();
          const started = process.hrtime.bigint();
          await migrateSequentially(files);
          const ms = msSince(started);
          await revertSequentially(files);
          return baselineTenants / (ms / 1000);
        },
      );
      const ratios = pairs.map((p) => p.a / p.b);
      return [
        metric({
          scenario: "fleet-migrate",
          name: "tenants migrated per second",
          value: median(pairs.map((p) => p.a)),
          unit: "tenants/s",
          target: { on: "value", op: ">=", threshold: 2000 },
          notes: `${tenants} tenants (${ROWS} rows each), add column + index, hub.migrations.run() with defaults (worker threads); runs took ${notes.join(", ")}`,
        }),
        metric({
          scenario: "fleet-migrate",
          name: "vs sequential Kysely Migrator loop",
          value: median(pairs.map((p) => p.a)),
          unit: "tenants/s",
          baseline: median(pairs.map((p) => p.b)),
          baselineName: "Kysely Migrator loop",
          ratio: median(ratios),
          target: { on: "ratio", op: ">=", threshold: 10 },
          notes: `baseline loop over ${baselineTenants} tenant files (its rate does not depend on the count); per-round ratios ${ratios.map((r) => r.toFixed(1)).join(", ")}`,
        }),
        metric({
          scenario: "fleet-migrate",
          name: "tenants rolled back per second",
          value: median(rollbackRates),
          unit: "tenants/s",
          notes: `hub.migrations.rollback(run) of each round's run: drop index + drop column (SQLite rewrites the table), with the catalog holding every earlier run's outcomes`,
        }),
      ];
    } finally {
      await hub.close();
    }
  },
};
