/**
 * Throwaway PostgreSQL databases on the local server, for the tests and the
 * benchmarks alike: starts the local cluster when it is down, connects as
 * `postgres` (or `root`), creates `<prefix>_<random>` and drops it after.
 * No vitest here: benchmark runs import it too.
 */
import { execSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface ThrowawayDatabase {
  url: string;
  name: string;
  /** Drops it, forcing off any session still connected. */
  drop(): Promise<void>;
}

const reachable = new Map<string, Promise<string>>();

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

/** The URL of a reachable server at `baseUrl` (its user, or root), starting the local cluster if needed. */
export function ensurePostgresAt(baseUrl: string): Promise<string> {
  let ready = reachable.get(baseUrl);
  if (!ready) {
    ready = (async () => {
      try {
        execSync(
          "pg_isready -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
          { stdio: "ignore", shell: "/bin/bash" },
        );
      } catch {
        // Not a local cluster we can start: the connection attempts say whether it is up.
      }
      for (let attempt = 0; attempt <= 50; attempt++) {
        for (const url of [baseUrl, baseUrl.replace("//postgres@", "//root@")]) {
          if (await tryConnect(url)) return url;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`PostgreSQL is not reachable at ${baseUrl}`);
    })();
    reachable.set(baseUrl, ready);
    ready.catch(() => reachable.delete(baseUrl));
  }
  return ready;
}

export async function withAdminClient<T>(
  baseUrl: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: await ensurePostgresAt(baseUrl) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database `<prefix>_<random>` on the server at `baseUrl`. */
export async function throwawayDatabaseAt(
  baseUrl: string,
  prefix: string,
): Promise<ThrowawayDatabase> {
  // The prefix is ours, the rest hex: a plain identifier, never user input.
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new TypeError("unsafe database prefix");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await withAdminClient(baseUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(await ensurePostgresAt(baseUrl));
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await withAdminClient(baseUrl, (client) =>
        client.query(`drop database if exists ${name} with (force)`),
      );
    },
  };
}
