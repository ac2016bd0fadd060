export {
  digest,
  type Migration,
  migrationsDigest,
  type ResolvedMigration,
  resolveMigrations,
  sqlMigration,
} from "./migration.js";
export {
  type AppliedMigration,
  applyMigrations,
  ensureMigrationsTable,
  MigrationDrift,
  type MigrationOutcome,
  type MigrationPlan,
  type MigrationTrack,
  migrateToLatest,
  migrateTracks,
  planMigrations,
  readApplied,
  revertMigrations,
  TENANT_MIGRATIONS_TABLE,
} from "./migrator.js";
export { fromDrizzleFolder, fromSqlFolder } from "./sources.js";
