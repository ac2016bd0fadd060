/**
 * The HTTP servers the postgres scenario compares, both `startServer` (the
 * same middleware, tenant resolution, record store and JSON) over the
 * PostgreSQL driver with the same pool settings, each in a database of its
 * own on the same PostgreSQL server:
 *
 * - tenantbase: one schema per tenant, N tenants with `rows` posts each;
 * - shared: ONE tenant schema ("shared") whose posts table has a tenant
 *   column `org` with an index (org, id), holding every tenant's posts;
 *   requests name that database and carry the tenant as a column value. As in
 *   the SQLite baseline (servers.ts), a superuser skips rules, so the baseline
 *   does no `org = ?` check: strictly less work than a real shared-table app.
 */
import { type Driver, sql } from "kysely";
import { pino } from "pino";
import { attachCollections } from "../../src/collections/attach.js";
import { formatDate } from "../../src/collections/ids.js";
import {
  PostgresSchemaDriver,
  PostgresStorageDriver,
  postgres,
  schemaOf,
} from "../../src/drivers/postgres/index.js";
import type { PostgresDriverOptions } from "../../src/drivers/postgres/storage.js";
import {
  createTenantbase,
  storageName,
  type Tenantbase,
  type TenantTemplate,
} from "../../src/index.js";
import { startServer } from "../../src/server/index.js";
import { benchTenantKey, recordId } from "../lib/load-plan.js";
import type { BenchServer } from "./servers.js";
import { ADMIN_TOKEN, SHARED_KEY } from "./servers.js";

const JWT_SECRET = "bench-jwt-secret-postgres-0123456789";
/** Connections of the tenant pool, on both sides (the driver's default). */
export const PG_POOL_MAX = 10;

const POST_FIELDS = [
  { name: "title", type: "text", required: true, max: 200 },
  { name: "body", type: "text" },
  { name: "views", type: "number", min: 0 },
];
const OPEN_RULES = { listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "" };

/** Runs `fn(0..n-1)` with `lanes` calls in flight at once. */
export async function inLanes(
  n: number,
  lanes: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function serve(hub: Tenantbase, name: string): Promise<BenchServer> {
  const server = await startServer({
    hub,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
  });
  return {
    name,
    url: server.url,
    hub,
    async close() {
      await server.close();
      await hub.close();
    },
  };
}

function post(tenant: number, j: number, now: string): Record<string, unknown> {
  return {
    id: recordId(tenant, j),
    title: `post ${j} of ${tenant}`,
    body: "seeded by the benchmark",
    views: j,
    created: now,
    updated: now,
  };
}

/** N tenant schemas, each with `rows` posts (created 8 at a time; setup, not measured). */
export async function startPostgresTenantServer(
  url: string,
  tenants: number,
  rows: number,
  log: (message: string) => void,
): Promise<BenchServer> {
  const hub = createTenantbase({
    driver: postgres({ url, max: PG_POOL_MAX }),
    pool: { maxOpen: 1000 },
  });
  const { collections } = await attachCollections(hub);
  await collections.create({ name: "posts", type: "base", fields: POST_FIELDS, ...OPEN_RULES });
  const started = Date.now();
  const now = formatDate(new Date());
  await inLanes(tenants, 8, async (t) => {
    const key = benchTenantKey(t);
    await hub.tenants.create(key);
    const handle = await hub.tenant(key);
    await handle.db
      .insertInto("posts")
      .values(Array.from({ length: rows }, (_, j) => post(t, j + 1, now)))
      .execute();
  });
  log(
    `postgres tenantbase: ${tenants} schemas x ${rows} posts in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return serve(hub, "tenantbase-postgres");
}

/**
 * The PostgreSQL driver with every tenant but the shared one an alias of the
 * shared schema: aliases are not provisioned, and open the shared schema
 * without the per-schema advisory lock. The hub runs one operation at a time
 * per tenant key; requests spread over the aliases (LoadPlan.sharedAliases),
 * so the baseline's queries run side by side over the pool like a
 * hand-written shared-table app's, instead of queueing behind one key.
 */
class SharedSchemaDriver extends PostgresStorageDriver {
  readonly #shared = storageName(SHARED_KEY);

  constructor(options: PostgresDriverOptions) {
    super(options);
  }

  override async provision(storage: string, template: TenantTemplate): Promise<void> {
    if (storage !== this.#shared) return;
    await super.provision(storage, template);
  }

  override async open(storage: string): Promise<Driver> {
    if (storage === this.#shared) return super.open(storage);
    return new PostgresSchemaDriver(this.pool, schemaOf(this.#shared), { lock: false });
  }

  override async exists(storage: string): Promise<boolean> {
    return storage === this.#shared ? super.exists(storage) : true;
  }
}

/** Keys the shared baseline's requests name: aliases of the shared schema. */
export const SHARED_ALIASES = 200;

/**
 * One schema ("shared") holding every tenant's posts, with a tenant column
 * `org` and an index; SHARED_ALIASES more keys of the same hub open it.
 */
export async function startPostgresSharedServer(
  url: string,
  tenants: number,
  rows: number,
  log: (message: string) => void,
): Promise<BenchServer> {
  const hub = createTenantbase({ driver: new SharedSchemaDriver({ url, max: PG_POOL_MAX }) });
  const { collections } = await attachCollections(hub);
  await collections.create({
    name: "posts",
    type: "base",
    fields: [{ name: "org", type: "text", required: true, max: 128 }, ...POST_FIELDS],
    ...OPEN_RULES,
  });
  await hub.tenants.create(SHARED_KEY);
  const started = Date.now();
  const now = formatDate(new Date());
  const handle = await hub.tenant(SHARED_KEY);
  // A competent user indexes the tenant column (every tenant-scoped list filters on it).
  await sql`create index posts_org on posts (org, id)`.execute(handle.db);
  let batch: Record<string, unknown>[] = [];
  const flush = async () => {
    if (batch.length > 0) await handle.db.insertInto("posts").values(batch).execute();
    batch = [];
  };
  for (let t = 0; t < tenants; t++) {
    for (let j = 1; j <= rows; j++) {
      batch.push({ ...post(t, j, now), org: benchTenantKey(t) });
      if (batch.length >= 1000) await flush();
    }
  }
  await flush();
  await sql`analyze posts`.execute(handle.db);
  await inLanes(SHARED_ALIASES, 8, async (i) => {
    await hub.tenants.create(`${SHARED_KEY}-${i}`);
    await hub.tenant(`${SHARED_KEY}-${i}`);
  });
  log(
    `postgres shared: ${tenants * rows} posts in one schema in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return serve(hub, "shared-postgres");
}
