/**
 * fleet-migrate: add a column with an index to N tenants. Tenantbase's
 * `hub.migrations.run()` (worker threads, two per core, outcomes in the
 * catalog) against a sequential loop of Kysely Migrators over tenant files,
 * and against the same migration and flush order in raw better-sqlite3
 * worker threads over as many files (the ceiling, with nothing of
 * Tenantbase's). Between rounds each goes back to version 1 (rollback;
 * migrateTo; the down script), unmeasured.
 */
import { join } from "node:path";
import {
  makeKyselyFleet,
  migrateSequentially,
  revertSequentially,
} from "../baselines/kysely-migrator.js";
import {
  compileRawFleetWorker,
  downScript,
  makeRawFleet,
  migrateRaw,
  upScript,
} from "../baselines/raw-fleet.js";
import { type Scenario, settle } from "../lib/context.js";
import {
  ITEMS_V1,
  ITEMS_V1_SQL,
  ITEMS_V2,
  ITEMS_V2_DOWN,
  ITEMS_V2_UP,
  openHub,
  seedTenants,
} from "../lib/fixtures.js";
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
    const rawFiles = makeRawFleet(join(ctx.dir, "raw"), tenants, ROWS, ITEMS_V1_SQL);
    const rawWorker = await compileRawFleetWorker();
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
          const rawStarted = process.hrtime.bigint();
          await migrateRaw(rawWorker, rawFiles, upScript(ITEMS_V2_UP));
          const rawMs = msSince(rawStarted);
          await migrateRaw(rawWorker, rawFiles, downScript(ITEMS_V2_DOWN));
          await settle();
          const started = process.hrtime.bigint();
          await migrateSequentially(files);
          const ms = msSince(started);
          await revertSequentially(files);
          return { loop: baselineTenants / (ms / 1000), raw: tenants / (rawMs / 1000) };
        },
      );
      const ratios = pairs.map((p) => p.a / p.b.loop);
      const ofRaw = pairs.map((p) => p.a / p.b.raw);
      const rawOverLoop = pairs.map((p) => p.b.raw / p.b.loop);
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
          baseline: median(pairs.map((p) => p.b.loop)),
          baselineName: "Kysely Migrator loop",
          ratio: median(ratios),
          target: { on: "ratio", op: ">=", threshold: 10 },
          notes: `baseline loop over ${baselineTenants} tenant files (its rate does not depend on the count); per-round ratios ${ratios.map((r) => r.toFixed(1)).join(", ")}`,
        }),
        metric({
          scenario: "fleet-migrate",
          name: "vs raw SQLite, same flush order",
          value: median(pairs.map((p) => p.a)),
          unit: "tenants/s",
          baseline: median(pairs.map((p) => p.b.raw)),
          baselineName: "raw better-sqlite3 workers",
          ratio: median(ofRaw),
          notes: `informational: the ceiling with a durable commit per tenant here, ${tenants} files, no engine at all (bench/baselines/raw-fleet.ts); it ran at ${rawOverLoop.map((r) => r.toFixed(1)).join(", ")}x the Kysely Migrator loop; per-round ratios ${ofRaw.map((r) => r.toFixed(2)).join(", ")}`,
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
