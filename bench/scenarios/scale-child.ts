/**
 * The scale scenario's body, in a process of its own (forked by scale.ts) so
 * its RSS is the hub's alone: N tenants in one data directory, a page of the
 * tenant list, and RSS with 1,000 tenants open.
 */
import { ITEMS_V1, openHub, tenantKey } from "../lib/fixtures.js";
import { msSince, percentile } from "../lib/stats.js";

export interface ScaleResult {
  tenants: number;
  createSeconds: number;
  firstPageMs: number;
  pageP50Ms: number;
  pageP99Ms: number;
  pages: number;
  countMs: number;
  rssIdleMiB: number;
  rssOpenMiB: number;
  heapOpenMiB: number;
  open: number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const mib = (bytes: number) => bytes / 1024 / 1024;

async function main(): Promise<void> {
  const [dir, count, openCount] = [
    process.argv[2]!,
    Number(process.argv[3]),
    Number(process.argv[4]),
  ];
  const hub = openHub(dir, { migrations: [ITEMS_V1], pool: { maxOpen: 1000, idleTimeoutMs: 0 } });
  await hub.ready();
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    await hub.tenants.create(tenantKey(i));
    if (i > 0 && i % 20_000 === 0) process.send?.({ log: `created ${i} tenants` });
  }
  const createSeconds = msSince(started) / 1000;
  // Pages: the first, then every page to the end.
  let begin = process.hrtime.bigint();
  let page = await hub.tenants.list({ limit: 100 });
  const firstPageMs = msSince(begin);
  const pageTimes: number[] = [firstPageMs];
  while (page.nextCursor) {
    begin = process.hrtime.bigint();
    page = await hub.tenants.list({ limit: 100, cursor: page.nextCursor });
    pageTimes.push(msSince(begin));
  }
  begin = process.hrtime.bigint();
  const total = await hub.tenants.count();
  const countMs = msSince(begin);
  if (total !== count) throw new Error(`count ${total}, expected ${count}`);
  gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const rssIdleMiB = mib(process.memoryUsage().rss);
  // 1,000 tenants open (a write each, so each has its WAL and page cache in use).
  for (let i = 0; i < openCount; i++) {
    const handle = await hub.tenant(tenantKey(Math.floor((i * count) / openCount)));
    await handle.db.insertInto("items").values({ name: "x", value: i }).execute();
    await handle.db.selectFrom("items").selectAll().execute();
  }
  gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const memory = process.memoryUsage();
  const open = hub.stats().open;
  const result: ScaleResult = {
    tenants: count,
    createSeconds,
    firstPageMs,
    pageP50Ms: percentile(pageTimes, 50),
    pageP99Ms: percentile(pageTimes, 99),
    pages: pageTimes.length,
    countMs,
    rssIdleMiB,
    rssOpenMiB: mib(memory.rss),
    heapOpenMiB: mib(memory.heapUsed),
    open,
  };
  await hub.close();
  process.send?.({ result });
}

main().catch((error) => {
  process.send?.({ error: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
});
