/**
 * inproc-read: point reads by primary key through `(await hub.tenant(key)).db`
 * (Kysely's query builder) across N tenants picked by Zipf (s = 1.1), pool
 * maxOpen 1,000, against the same reads as prepared statements of raw
 * better-sqlite3 on one database holding every tenant's rows.
 */
import { join } from "node:path";
import { CompiledQuery, Kysely, SqliteDialect } from "kysely";
import { openRawItems } from "../baselines/raw-sqlite.js";
import { type BenchContext, type Scenario, settle } from "../lib/context.js";
import { openHub, ROWS_PER_TENANT, seedTenants, tenantKey } from "../lib/fixtures.js";
import { type Metric, metric } from "../lib/report.js";
import { interleave, median, msSince, mulberry32, ZipfSampler } from "../lib/stats.js";

interface Workload {
  ranks: Uint32Array;
  ids: Uint32Array;
}

function workload(tenants: number, ops: number, seed: number): Workload {
  const zipf = new ZipfSampler(tenants, 1.1, mulberry32(seed));
  const random = mulberry32(seed + 1);
  const ids = new Uint32Array(ops);
  for (let i = 0; i < ops; i++) ids[i] = 1 + Math.floor(random() * ROWS_PER_TENANT);
  return { ranks: zipf.sample(ops), ids };
}

async function measureTenants(
  ctx: BenchContext,
  tenants: number,
  ops: number,
  rounds: number,
  label: string,
  withVariants: boolean,
): Promise<Metric[]> {
  const hub = openHub(join(ctx.dir, `hub-${tenants}`), {
    pool: { maxOpen: 1000, idleTimeoutMs: 0 },
  });
  await hub.ready();
  await seedTenants(hub, tenants, ROWS_PER_TENANT, ctx.log);
  const raw = openRawItems(join(ctx.dir, `raw-${tenants}.db`), tenants, ROWS_PER_TENANT);
  const keys = Array.from({ length: tenants }, (_, i) => tenantKey(i));
  const work = workload(tenants, ops, 7);
  const precompiledSql = "select id, name, value from items where id = ?";

  const tenantbase = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      const handle = await hub.tenant(keys[work.ranks[i]!]!);
      const row = await handle.db
        .selectFrom("items")
        .select(["id", "name", "value"])
        .where("id", "=", work.ids[i]!)
        .executeTakeFirst();
      if (row === undefined) throw new Error("missing row");
    }
    return ops / (msSince(started) / 1000);
  };
  const precompiled = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      const handle = await hub.tenant(keys[work.ranks[i]!]!);
      const result = await handle.db.executeQuery(
        CompiledQuery.raw(precompiledSql, [work.ids[i]!]),
      );
      if (result.rows.length !== 1) throw new Error("missing row");
    }
    return ops / (msSince(started) / 1000);
  };
  // Kysely's own SqliteDialect over the raw database: what the query builder alone costs.
  const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: raw.db }) });
  const kyselyOne = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      const row = await kysely
        .selectFrom("items")
        .select(["id", "name", "value"])
        .where("tenant_id", "=", work.ranks[i]!)
        .where("id", "=", work.ids[i]!)
        .executeTakeFirst();
      if (row === undefined) throw new Error("missing row");
    }
    return ops / (msSince(started) / 1000);
  };
  const baseline = async (): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) {
      if (raw.get.get(work.ranks[i]!, work.ids[i]!) === undefined) throw new Error("missing row");
    }
    return ops / (msSince(started) / 1000);
  };

  // Warm up: JIT, statement caches, and the pool (every tenant the workload touches).
  await tenantbase();
  await precompiled();
  await kyselyOne();
  await baseline();
  const statsBefore = hub.stats();
  const pairs = await interleave(rounds, tenantbase, baseline);
  const statsAfter = hub.stats();
  const wakes = statsAfter.wakes - statsBefore.wakes;
  const pre = withVariants ? await interleave(rounds, precompiled, baseline) : [];
  const plain = withVariants ? await interleave(rounds, tenantbase, kyselyOne) : [];
  const kyselyVsRaw = withVariants ? await interleave(rounds, kyselyOne, baseline) : [];
  await settle();
  await kysely.destroy();
  await hub.close();

  const ratios = pairs.map((p) => p.a / p.b);
  const out = [
    metric({
      scenario: "inproc-read",
      name: label,
      value: median(pairs.map((p) => p.a)),
      unit: "reads/s",
      baseline: median(pairs.map((p) => p.b)),
      baselineName: "raw better-sqlite3",
      ratio: median(ratios),
      target: { on: "ratio", op: ">=", threshold: 0.5 },
      notes: `${tenants} tenants, Zipf s=1.1, maxOpen 1000, ${ops} reads x ${rounds} rounds interleaved; ratio = median of per-round ratios (${ratios.map((r) => r.toFixed(2)).join(", ")}); ${wakes} wakes during measured rounds (${((wakes / (ops * rounds)) * 100).toFixed(2)}% of reads)`,
    }),
  ];
  if (withVariants) {
    const preRatios = pre.map((p) => p.a / p.b);
    out.push(
      metric({
        scenario: "inproc-read",
        name: `${label}, precompiled query`,
        value: median(pre.map((p) => p.a)),
        unit: "reads/s",
        baseline: median(pre.map((p) => p.b)),
        baselineName: "raw better-sqlite3",
        ratio: median(preRatios),
        notes:
          "informational: the same reads as db.executeQuery(CompiledQuery.raw(sql, [id])), i.e. without Kysely's query builder and compiler per read",
      }),
      metric({
        scenario: "inproc-read",
        name: `${label}, vs Kysely on one database`,
        value: median(plain.map((p) => p.a)),
        unit: "reads/s",
        baseline: median(plain.map((p) => p.b)),
        baselineName: "Kysely + better-sqlite3, one db",
        ratio: median(plain.map((p) => p.a / p.b)),
        notes: `informational: the same query builder over Kysely's own SqliteDialect on the raw database (where tenant_id = ? and id = ?), the ceiling for any Kysely-based read; that baseline itself reaches ${median(kyselyVsRaw.map((p) => p.a / p.b)).toFixed(2)} of raw better-sqlite3 (${median(kyselyVsRaw.map((p) => p.a)).toFixed(0)} vs ${median(kyselyVsRaw.map((p) => p.b)).toFixed(0)} reads/s)`,
      }),
    );
  }
  return out;
}

export const inprocRead: Scenario = {
  name: "inproc-read",
  async run(ctx) {
    const tenants = ctx.quick ? 200 : 1000;
    const metrics = await measureTenants(
      ctx,
      tenants,
      ctx.quick ? 10_000 : 50_000,
      ctx.quick ? 2 : 3,
      `point reads, ${tenants.toLocaleString("en-US")} tenants`,
      true,
    );
    return metrics;
  },
};
