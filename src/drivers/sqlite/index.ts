/**
 * The default driver: one SQLite file per tenant (better-sqlite3).
 *
 *   createTenantbase({ driver: sqlite({ dir: "./data" }) })
 */
import { type SqliteDriverOptions, SqliteStorageDriver } from "./storage.js";

export { SqliteConnection, SqliteConnectionDriver } from "./connection.js";
export { type SqliteDriverOptions, SqliteStorageDriver } from "./storage.js";

export function sqlite(options: SqliteDriverOptions = {}): SqliteStorageDriver {
  return new SqliteStorageDriver(options);
}
