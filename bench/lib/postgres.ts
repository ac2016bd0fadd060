/**
 * Throwaway PostgreSQL databases for the benchmarks: `tb_bench_<random>` on
 * the local server (TENANTBASE_BENCH_PG_URL overrides where it is; default
 * postgres://postgres@127.0.0.1:5432/postgres), created for a run and dropped
 * after it. Starts the local cluster when it is down, as the tests'
 * fixture does (test/drivers/pg-fixture.ts).
 */
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";

const BASE_URL =
  process.env.TENANTBASE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

let reachable: Promise<string> | undefined;

async function tryConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The URL of a reachable server (user postgres, or root), starting the local cluster if needed. */
export function ensurePostgres(): Promise<string> {
  reachable ??= (async () => {
    try {
      execSync(
        "pg_isready -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        { stdio: "ignore", shell: "/bin/bash" },
      );
    } catch {
      // Not a local cluster we can start: the connection attempts below say whether it is up.
    }
    for (let attempt = 0; attempt <= 50; attempt++) {
      for (const url of [BASE_URL, BASE_URL.replace("//postgres@", "//root@")]) {
        if (await tryConnect(url)) return url;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`PostgreSQL is not reachable at ${BASE_URL}`);
  })();
  reachable.catch(() => {
    reachable = undefined;
  });
  return reachable;
}

export interface BenchDatabase {
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

/** A new, empty database `tb_bench_<random>`; `drop()` removes it (forcing off any session). */
export async function benchDatabase(): Promise<BenchDatabase> {
  const name = `tb_bench_${randomBytes(6).toString("hex")}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(await ensurePostgres());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** The server's version string (for the notes). */
export async function postgresVersion(): Promise<string> {
  return admin(async (client) => {
    const { rows } = await client.query("show server_version");
    return String(rows[0]?.server_version ?? "?");
  });
}
