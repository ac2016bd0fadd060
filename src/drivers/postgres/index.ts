/**
 * The PostgreSQL driver: one schema per tenant over one shared `pg` pool,
 * the catalog in its own schema.
 *
 *   createTenantbase({ driver: postgres({ url: "postgres://localhost/app" }) })
 */
import { type PostgresDriverOptions, PostgresStorageDriver } from "./storage.js";

export {
  ADVISORY_LOCK_CLASS,
  PostgresSchemaConnection,
  PostgresSchemaDriver,
  SchemaScopedIntrospector,
} from "./connection.js";
export {
  eventChannelOf,
  LISTENER_APPLICATION_NAME,
  NOTIFY_PAYLOAD_LIMIT,
  type PostgresEventsOptions,
  PostgresEventTransport,
} from "./events.js";
export {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type PostgresDriverOptions,
  PostgresStorageDriver,
  schemaOf,
} from "./storage.js";

export function postgres(options: PostgresDriverOptions = {}): PostgresStorageDriver {
  return new PostgresStorageDriver(options);
}
