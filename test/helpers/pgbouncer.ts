/**
 * A PgBouncer process of a test's own, in front of one database of the local
 * PostgreSQL server: its own config in a temporary directory, a free port,
 * `pool_mode = transaction`, `auth_type = trust` (the server trusts local
 * TCP connections too). PgBouncer refuses to run as root: as root it runs as
 * the `postgres` user. Fails (never skips) when pgbouncer is not installed:
 * scripts/setup.sh installs it.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export interface PgBouncer {
  /** The database URL through PgBouncer. */
  url: string;
  port: number;
  /** PgBouncer's log so far. */
  log(): string;
  /** Runs a command on PgBouncer's admin console (`SHOW POOLS`, ...). */
  admin(command: string): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per user and database (default 2). */
  poolSize?: number;
  /** Extra `[pgbouncer]` settings, `key = value` each. */
  settings?: Record<string, string | number>;
}

function binary(): string {
  for (const candidate of [
    "/usr/sbin/pgbouncer",
    "/usr/bin/pgbouncer",
    "/usr/local/bin/pgbouncer",
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("pgbouncer is not installed: run scripts/setup.sh (apt-get install pgbouncer)");
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Starts PgBouncer in front of `databaseUrl` (postgres://user@host:port/name, trust auth). */
export async function startPgBouncer(
  databaseUrl: string,
  options: PgBouncerOptions = {},
): Promise<PgBouncer> {
  const target = new URL(databaseUrl);
  const database = decodeURIComponent(target.pathname.slice(1));
  const user = decodeURIComponent(target.username);
  const dir = mkdtempSync(join(tmpdir(), "tenantbase-pgbouncer-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  let ids: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const [uid, gid] = ["-u", "-g"].map((flag) =>
      Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim()),
    );
    ids = { uid: uid!, gid: gid! };
    chownSync(dir, ids.uid, ids.gid);
  }
  const settings: Record<string, string | number> = {
    listen_addr: "127.0.0.1",
    listen_port: port,
    unix_socket_dir: "",
    auth_type: "trust",
    auth_file: join(dir, "userlist.txt"),
    admin_users: user,
    pool_mode: "transaction",
    default_pool_size: options.poolSize ?? 2,
    max_client_conn: 500,
    logfile: join(dir, "pgbouncer.log"),
    pidfile: join(dir, "pgbouncer.pid"),
    server_reset_query: "",
    ...options.settings,
  };
  const ini = [
    "[databases]",
    `${database} = host=${target.hostname} port=${target.port || 5432} dbname=${database}`,
    "",
    "[pgbouncer]",
    ...Object.entries(settings).map(([key, value]) => `${key} = ${value}`),
    "",
  ].join("\n");
  const config = join(dir, "pgbouncer.ini");
  writeFileSync(config, ini);
  // With trust, PgBouncer still wants the user listed.
  writeFileSync(join(dir, "userlist.txt"), `"${user}" ""\n`);
  const logFile = join(dir, "pgbouncer.log");
  writeFileSync(logFile, "");
  if (ids)
    for (const file of [config, join(dir, "userlist.txt"), logFile])
      chownSync(file, ids.uid, ids.gid);

  const child: ChildProcess = spawn(binary(), [config], {
    stdio: ["ignore", "ignore", "pipe"],
    ...(ids ?? {}),
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const url = new URL(databaseUrl);
  url.port = String(port);
  url.hostname = "127.0.0.1";
  const readLog = () => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };
  const adminUrl = new URL(url);
  adminUrl.pathname = "/pgbouncer";
  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (!exited) child.kill("SIGKILL");
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Wait until it answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      const log = readLog();
      await stop();
      throw new Error(`pgbouncer exited at start: ${stderr}${log}`);
    }
    const client = new pg.Client({ connectionString: url.toString() });
    try {
      await client.connect();
      await client.query("select 1");
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `pgbouncer did not answer: ${(error as Error).message}\n${stderr}${readLog()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
  return {
    url: url.toString(),
    port,
    log: readLog,
    async admin(command: string) {
      // The admin console speaks the simple protocol only.
      const client = new pg.Client({ connectionString: adminUrl.toString() });
      await client.connect();
      try {
        const result = await client.query(command);
        return result.rows;
      } finally {
        await client.end().catch(() => {});
      }
    },
    stop,
  };
}
