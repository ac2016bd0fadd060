/**
 * Tenantbase: a database per tenant.
 *
 *   import { createTenantbase, sqlite } from "tenantbase";
 *   const hub = createTenantbase({ driver: sqlite({ dir: "./data" }) });
 *   await hub.tenants.create("Acme Co");
 *   const acme = await hub.tenant("Acme Co");
 *   await acme.db.selectFrom("projects").selectAll().execute();
 */
export {
  type ActionAuth,
  type ActionCallers,
  type ActionCallInput,
  type ActionCallOptions,
  type ActionContext,
  type ActionDefinition,
  type ActionDefinitions,
  type ActionInfo,
  type ActionResult,
  type DemoData,
  type DemoStep,
  defineTenant,
  type EventSchemas,
  type ServerSettings,
  SUPERUSER_AUTH,
  type SuperuserAuth,
  type TenantDefinition,
  type UserAuth,
} from "./actions/index.js";
export {
  type ListTenantsOptions,
  type OutcomeKind,
  type RunKind,
  type RunStatus,
  TENANT_STATUSES,
  type TenantInfo,
  type TenantPage,
  type TenantStatus,
} from "./core/catalog.js";
export * from "./core/errors.js";
export type { EventListener, TenantEvent } from "./core/events.js";
export type { TenantHandle } from "./core/handle.js";
export {
  type CreateTenantOptions,
  createTenantbase,
  type MigrationStreams,
  type MigrationsApi,
  type MigrationTrackSource,
  type Tenantbase,
  type TenantbaseOptions,
  type TenantOptions,
  type TenantsApi,
} from "./core/hub.js";
export type { PoolOptions, PoolStats } from "./core/pool.js";
export type {
  FleetStatus,
  MigrationRun,
  RollbackOptions,
  RunCounts,
  RunOptions,
  RunProgress,
  TenantOutcome,
} from "./core/rollout.js";
export {
  isValidTenantKey,
  MAX_TENANT_KEY_BYTES,
  storageName,
  tenantKeyFromStorageName,
  validateTenantKey,
} from "./core/tenant-key.js";
export type { BackupResult, StorageDriver, TenantTemplate } from "./drivers/driver.js";
export { type SqliteDriverOptions, sqlite } from "./drivers/sqlite/index.js";
export * from "./migrations/index.js";
