/**
 * Moving a deployment from SQLite to PostgreSQL: collection definitions (in
 * the catalog) first, so the target provisions tenants with the same
 * collection tables and migration track, then the catalog's settings, then
 * every tenant (src/core/copy.ts), verified row for row.
 */
import { type Kysely, sql } from "kysely";
import {
  CopyError,
  type CopyTenantsOptions,
  type CopyTenantsReport,
  copySettings,
  copyTenants,
  type SettingCopy,
} from "../core/copy.js";
import type { Tenantbase } from "../core/hub.js";
import { attachCollections } from "./attach.js";
import type { CollectionsCatalogSchema } from "./registry.js";

export interface CollectionsCopy {
  /** none: no collections anywhere; copied: written into the target; same: the target had them already. */
  outcome: "none" | "copied" | "same";
  collections: number;
  changes: number;
}

export interface DeploymentCopyOptions extends CopyTenantsOptions {
  /**
   * Migrate the source's tenants first (a fleet rollout on the source, going
   * on past failures), instead of reporting tenants behind as failed.
   */
  migrateSource?: boolean;
}

export interface DeploymentCopyReport extends CopyTenantsReport {
  collections: CollectionsCopy;
  settings: SettingCopy[];
  /** With `migrateSource`: the rollout on the source. */
  sourceRun: { id: number; migrated: number; failed: number } | null;
}

type Db = Kysely<CollectionsCatalogSchema>;

async function readDefinitions(db: Db) {
  const collections = await db.selectFrom("collections").selectAll().orderBy("id").execute();
  const changes = await db.selectFrom("collection_changes").selectAll().orderBy("seq").execute();
  return { collections, changes };
}

/**
 * Copies the collection definitions and their change log into the target's
 * catalog when it has none, then reloads the target's collections (its
 * tenants get the same collection migration track). A target whose
 * definitions differ from the source's is refused.
 */
export async function copyCollectionDefinitions(
  source: Tenantbase,
  target: Tenantbase,
): Promise<CollectionsCopy> {
  await attachCollections(source);
  const attached = await attachCollections(target);
  const from = await readDefinitions(source.catalog.db as unknown as Db);
  const to = await readDefinitions(target.catalog.db as unknown as Db);
  const counts = { collections: from.collections.length, changes: from.changes.length };
  const log = (rows: typeof from.changes) =>
    JSON.stringify(rows.map((r) => [r.collection_id, r.migration_name, r.payload]));
  const defs = (rows: typeof from.collections) =>
    JSON.stringify(
      rows.map((r) => [r.collection_id, r.name, r.type, r.definition, r.deleted_at != null]),
    );
  if (to.changes.length > 0 || to.collections.length > 0) {
    if (log(to.changes) === log(from.changes) && defs(to.collections) === defs(from.collections)) {
      return { outcome: "same", ...counts };
    }
    throw new CopyError(
      "COPY_COLLECTIONS_DIFFER",
      "The target already has collection definitions, and they differ from the source's: copy into a fresh target database.",
    );
  }
  if (from.changes.length === 0 && from.collections.length === 0)
    return { outcome: "none", ...counts };
  const db = target.catalog.db as unknown as Db;
  await db.transaction().execute(async (trx) => {
    for (const row of from.collections) {
      await trx
        .insertInto("collections")
        .values({
          id: Number(row.id),
          collection_id: row.collection_id,
          name: row.name,
          name_key: row.name_key,
          type: row.type,
          definition: row.definition,
          created_at: Number(row.created_at),
          updated_at: Number(row.updated_at),
          deleted_at: row.deleted_at == null ? null : Number(row.deleted_at),
        })
        .execute();
    }
    for (const row of from.changes) {
      await trx
        .insertInto("collection_changes")
        .values({
          seq: Number(row.seq),
          collection_id: row.collection_id,
          migration_name: row.migration_name,
          payload: row.payload,
          created_at: Number(row.created_at),
        })
        .execute();
    }
    // The ids were given: move the target's sequences past them.
    if (target.driver.dialect === "postgres") {
      await sql`select setval(pg_get_serial_sequence('collections', 'id'), (select max(id) from collections))`.execute(
        trx,
      );
      await sql`select setval(pg_get_serial_sequence('collection_changes', 'seq'), (select max(seq) from collection_changes))`.execute(
        trx,
      );
    }
  });
  await attached.collections.load();
  await target.reloadSchema();
  return { outcome: "copied", ...counts };
}

/**
 * Copies a whole deployment: collection definitions, settings, then every
 * tenant (or `options.tenants`), each verified row for row. Both hubs must
 * be opened with the same app definition. Re-running is safe: tenants
 * already in the target are verified, never overwritten.
 */
export async function copyDeployment(
  source: Tenantbase,
  target: Tenantbase,
  options: DeploymentCopyOptions = {},
): Promise<DeploymentCopyReport> {
  await source.ready();
  await target.ready();
  const collections = options.verifyOnly
    ? await verifyCollectionDefinitions(source, target)
    : await copyCollectionDefinitions(source, target);
  let sourceRun: DeploymentCopyReport["sourceRun"] = null;
  if (options.migrateSource && !options.verifyOnly) {
    const run = await source.migrations.run({
      ...(options.tenants ? { tenants: options.tenants } : {}),
      onError: "continue",
    });
    sourceRun = { id: run.id, migrated: run.counts.migrated, failed: run.counts.failed };
  }
  const settings = options.verifyOnly ? [] : await copySettings(source, target);
  const { migrateSource: _, ...rest } = options;
  const report = await copyTenants(source, target, rest);
  return { ...report, collections, settings, sourceRun };
}

async function verifyCollectionDefinitions(
  source: Tenantbase,
  target: Tenantbase,
): Promise<CollectionsCopy> {
  await attachCollections(source);
  await attachCollections(target);
  const from = await readDefinitions(source.catalog.db as unknown as Db);
  const to = await readDefinitions(target.catalog.db as unknown as Db);
  const same =
    JSON.stringify(from.changes.map((r) => [r.migration_name, r.payload])) ===
    JSON.stringify(to.changes.map((r) => [r.migration_name, r.payload]));
  if (!same) {
    throw new CopyError(
      "COPY_COLLECTIONS_DIFFER",
      "The target's collection definitions differ from the source's.",
    );
  }
  return {
    outcome: from.changes.length === 0 ? "none" : "same",
    collections: from.collections.length,
    changes: from.changes.length,
  };
}
