/**
 * The HTTP servers the http scenario compares, all on @hono/node-server with
 * the records API's routes and JSON shapes:
 *
 * - tenantbase: `startServer` over a hub with one database per tenant;
 * - shared: the SAME server code (`startServer`, same middleware, same record
 *   store) over ONE database ("shared") whose posts table has a tenant column
 *   `org` with an index (org, id); requests name that database, and the
 *   tenant is a column value. The server does no tenant check for a superuser,
 *   so the baseline does strictly less work than a real shared-table app
 *   (which would add `org = ?` to every query): its throughput is an upper
 *   bound, and Tenantbase's ratio a lower bound.
 * - naive: what a hand-made database-per-tenant server does: a Hono app with
 *   the same middleware (logger, CORS, body limit, auth) that opens the
 *   tenant's SQLite file for every request, runs one prepared statement and
 *   closes it.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import BetterSqlite3 from "better-sqlite3";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { pino } from "pino";
import { attachCollections } from "../../src/collections/attach.js";
import type { Collection } from "../../src/collections/collection.js";
import { formatDate, newRecordId } from "../../src/collections/ids.js";
import { toApiRecord } from "../../src/collections/output.js";
import { SUPERUSER } from "../../src/collections/rules.js";
import type { SqliteStorageDriver } from "../../src/drivers/sqlite/index.js";
import { createTenantbase, sqlite, storageName, type Tenantbase } from "../../src/index.js";
import { createApp } from "../../src/server/app.js";
import type { AppEnv } from "../../src/server/env.js";
import { startServer } from "../../src/server/index.js";
import { auth } from "../../src/server/middleware/auth/index.js";
import { bodyLimit, DEFAULT_BODY_LIMIT } from "../../src/server/middleware/body-limit/index.js";
import { errorHandler, notFoundHandler } from "../../src/server/middleware/errors/index.js";
import { requestLogger } from "../../src/server/middleware/logger/index.js";
import { decodeTenantHeader } from "../../src/server/middleware/tenant/index.js";
import { fillFile } from "../lib/fixtures.js";
import { benchTenantKey, recordId } from "../lib/load-plan.js";

export const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const JWT_SECRET = "bench-jwt-secret-0123456789abcdef";
export const SHARED_KEY = "shared";

const POST_FIELDS = [
  { name: "title", type: "text", required: true, max: 200 },
  { name: "body", type: "text" },
  { name: "views", type: "number", min: 0 },
];
const OPEN_RULES = { listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "" };

export interface BenchServer {
  name: string;
  url: string;
  hub?: Tenantbase;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
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

function postRow(tenant: number, j: number, now: string, org?: string): unknown[] {
  const row = [
    recordId(tenant, j),
    `post ${j} of ${tenant}`,
    "seeded by the benchmark",
    j,
    now,
    now,
  ];
  return org === undefined ? row : [...row.slice(0, 4), org, ...row.slice(4)];
}

/** N tenants, each its own database with `rows` posts. */
export async function startTenantbaseServer(
  dir: string,
  tenants: number,
  rows: number,
  log: (message: string) => void,
  maxOpen = 1000,
): Promise<BenchServer> {
  const hub = createTenantbase({
    driver: sqlite({ dir: join(dir, "data") }),
    pool: { maxOpen },
  });
  const { collections } = await attachCollections(hub);
  await collections.create({ name: "posts", type: "base", fields: POST_FIELDS, ...OPEN_RULES });
  const started = Date.now();
  const now = formatDate(new Date());
  const driver = hub.driver as SqliteStorageDriver;
  for (let t = 0; t < tenants; t++) {
    const key = benchTenantKey(t);
    await hub.tenants.create(key);
    fillFile(driver.pathOf(storageName(key)), (db) => {
      const insert = db.prepare(
        "insert into posts (id, title, body, views, created, updated) values (?, ?, ?, ?, ?, ?)",
      );
      for (let j = 1; j <= rows; j++) insert.run(postRow(t, j, now));
    });
  }
  log(
    `tenantbase: ${tenants} tenants x ${rows} posts in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return serve(hub, "tenantbase");
}

/** One database ("shared") holding every tenant's posts, with a tenant column `org`. */
export async function startSharedServer(
  dir: string,
  tenants: number,
  rows: number,
  log: (message: string) => void,
): Promise<BenchServer> {
  const hub = createTenantbase({ driver: sqlite({ dir: join(dir, "data") }) });
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
  const driver = hub.driver as SqliteStorageDriver;
  fillFile(driver.pathOf(storageName(SHARED_KEY)), (db) => {
    // A competent user indexes the tenant column (every tenant-scoped list filters on it).
    db.exec("create index posts_org on posts (org, id)");
    const insert = db.prepare(
      "insert into posts (id, title, body, views, org, created, updated) values (?, ?, ?, ?, ?, ?, ?)",
    );
    for (let t = 0; t < tenants; t++) {
      const org = benchTenantKey(t);
      for (let j = 1; j <= rows; j++) insert.run(postRow(t, j, now, org));
    }
  });
  log(
    `shared: ${tenants * rows} posts in one database in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return serve(hub, "shared");
}

/**
 * The naive database-per-tenant server over the tenantbase server's files:
 * open, one prepared statement, close, per request.
 */
export async function startNaiveServer(source: Tenantbase): Promise<BenchServer> {
  const { collections, records } = await attachCollections(source);
  const posts: Collection = collections.require("posts");
  const driver = source.driver as SqliteStorageDriver;
  const logger = pino({ level: "silent" });
  // The same auth middleware needs the same context the real server builds.
  const { context } = createApp({
    hub: source,
    collections,
    records,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger,
  });
  const columns = posts.columns.join(", ");
  const open = (header: string | undefined) => {
    const key = decodeTenantHeader(header ?? "");
    const db = new BetterSqlite3(driver.pathOf(storageName(key)), { fileMustExist: true });
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    return db;
  };
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(logger));
  app.notFound(notFoundHandler);
  app.use("*", requestLogger(logger));
  app.use("*", cors({ origin: "*" }));
  app.use("*", bodyLimit(DEFAULT_BODY_LIMIT));
  app.use("/api/*", auth(context));
  app.get("/api/collections/posts/records/:id", (c) => {
    const db = open(c.req.header("x-dbname"));
    try {
      const row = db.prepare(`select ${columns} from posts where id = ?`).get(c.req.param("id"));
      if (!row) return c.json({ status: 404, message: "Not found.", data: {} }, 404);
      return c.json(toApiRecord(posts, row as Record<string, unknown>, SUPERUSER));
    } finally {
      db.close();
    }
  });
  app.post("/api/collections/posts/records", async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    const db = open(c.req.header("x-dbname"));
    try {
      const now = formatDate(new Date());
      const row = {
        id: newRecordId(),
        title: String(body.title ?? ""),
        body: String(body.body ?? ""),
        views: Number(body.views ?? 0),
        created: now,
        updated: now,
      };
      db.prepare(
        "insert into posts (id, title, body, views, created, updated) values (@id, @title, @body, @views, @created, @updated)",
      ).run(row);
      return c.json(toApiRecord(posts, row, SUPERUSER));
    } finally {
      db.close();
    }
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const url = await listen(server);
  return {
    name: "naive",
    url,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
