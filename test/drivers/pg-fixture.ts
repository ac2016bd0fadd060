/**
 * Throwaway PostgreSQL databases for tests. Starts the local cluster if it
 * is down; a test that cannot reach PostgreSQL fails (it never skips).
 * TENANTBASE_TEST_PG_URL overrides where the server is (default
 * postgres://postgres@127.0.0.1:5432/test).
 */
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { postgres } from "../../src/drivers/postgres/index.js";
import type { PostgresDriverOptions } from "../../src/drivers/postgres/storage.js";
import type { StorageDriver } from "../../src/index.js";

const BASE_URL = process.env.TENANTBASE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let started: Promise<string> | undefined;

/** The URL of a reachable server (user postgres, or root), starting the local cluster if needed. */
export function ensurePostgres(): Promise<string> {
  started ??= (async () => {
    execSync(
      "pg_isready -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
      { stdio: "ignore", shell: "/bin/bash" },
    );
    for (let attempt = 0; ; attempt++) {
      for (const url of [BASE_URL, BASE_URL.replace("//postgres@", "//root@")]) {
        const client = new pg.Client({ connectionString: url });
        try {
          await client.connect();
          await client.query("select 1");
          return url;
        } catch {
          // try the next user, or again once the server is up
        } finally {
          await client.end().catch(() => {});
        }
      }
      if (attempt >= 50) throw new Error(`PostgreSQL is not reachable at ${BASE_URL}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return started;
}

export interface ThrowawayDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await ensurePostgres() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database `tb_test_<random>`; `drop()` removes it. */
export async function throwawayDatabase(): Promise<ThrowawayDatabase> {
  const name = `tb_test_${randomBytes(6).toString("hex")}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(await ensurePostgres());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      admin((client) => client.query(`drop database if exists ${name} with (force)`)).then(
        () => {},
      ),
  };
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
