/**
 * Throwaway PostgreSQL databases for tests. Starts the local cluster if it
 * is down; a test that cannot reach PostgreSQL fails (it never skips).
 * TENANTBASE_TEST_PG_URL overrides where the server is (default
 * postgres://postgres@127.0.0.1:5432/test).
 */
import pg from "pg";
import { afterEach } from "vitest";
import { postgres } from "../../src/drivers/postgres/index.js";
import type { PostgresDriverOptions } from "../../src/drivers/postgres/storage.js";
import type { StorageDriver } from "../../src/index.js";
import {
  ensurePostgresAt,
  type ThrowawayDatabase,
  throwawayDatabaseAt,
} from "../helpers/postgres.js";

const BASE_URL = process.env.TENANTBASE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** The URL of a reachable server (user postgres, or root), starting the local cluster if needed. */
export function ensurePostgres(): Promise<string> {
  return ensurePostgresAt(BASE_URL);
}

export type { ThrowawayDatabase };

/** A new, empty database `tb_test_<random>`; `drop()` removes it. */
export function throwawayDatabase(): Promise<ThrowawayDatabase> {
  return throwawayDatabaseAt(BASE_URL, "tb_test");
}

/** The conformance fixture: every test gets a database of its own. */
export const postgresFixture = {
  async fresh(options: Omit<PostgresDriverOptions, "url"> = {}) {
    const db = await throwawayDatabase();
    const drivers: StorageDriver[] = [];
    return {
      url: db.url,
      driver: () => {
        const driver = postgres({ url: db.url, max: 5, ...options });
        drivers.push(driver);
        return driver;
      },
      async dispose() {
        for (const driver of drivers) await driver.close().catch(() => {});
        await db.drop();
      },
    };
  },
};

export type FreshPostgres = Awaited<ReturnType<typeof postgresFixture.fresh>>;

/**
 * For a describe block: databases from `fresh()`, clients from `direct()`
 * and whatever is given to `defer()` are cleaned up after each test, last
 * first.
 */
export function postgresScope() {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    defer(cleanup: () => Promise<void>): void {
      cleanups.push(cleanup);
    },
    async fresh(options: Parameters<typeof postgresFixture.fresh>[0] = {}): Promise<FreshPostgres> {
      const store = await postgresFixture.fresh(options);
      cleanups.push(() => store.dispose());
      return store;
    },
    async direct(store: { url: string }): Promise<pg.Client> {
      const client = new pg.Client({ connectionString: store.url });
      await client.connect();
      cleanups.push(() => client.end());
      return client;
    },
  };
}
