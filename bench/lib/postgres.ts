/**
 * Throwaway PostgreSQL databases for the benchmarks: `tb_bench_<random>` on
 * the local server (TENANTBASE_BENCH_PG_URL overrides where it is; default
 * postgres://postgres@127.0.0.1:5432/postgres), created for a run and dropped
 * after it, with the tests' helper (test/helpers/postgres.ts).
 */
import {
  ensurePostgresAt,
  type ThrowawayDatabase,
  throwawayDatabaseAt,
  withAdminClient,
} from "../../test/helpers/postgres.js";

const BASE_URL =
  process.env.TENANTBASE_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** The URL of a reachable server (user postgres, or root), starting the local cluster if needed. */
export function ensurePostgres(): Promise<string> {
  return ensurePostgresAt(BASE_URL);
}

export type BenchDatabase = ThrowawayDatabase;

/** A new, empty database `tb_bench_<random>`; `drop()` removes it (forcing off any session). */
export function benchDatabase(): Promise<BenchDatabase> {
  return throwawayDatabaseAt(BASE_URL, "tb_bench");
}

/** The server's version string (for the notes). */
export async function postgresVersion(): Promise<string> {
  return withAdminClient(BASE_URL, async (client) => {
    const { rows } = await client.query("show server_version");
    return String(rows[0]?.server_version ?? "?");
  });
}
