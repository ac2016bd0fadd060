/**
 * Connects collections to a hub: loads the definitions from the catalog and
 * adds their migrations as a tenant migration track, so every tenant applies
 * them on wake, new tenants get them from the template, and the fleet
 * rollout runs them. The CLI's migrate command attaches the same track.
 *
 * When other processes share the catalog (PostgreSQL with events), a change
 * one of them commits signals the others, which reload (see registry.ts).
 */
import type { Tenantbase } from "../core/hub.js";
import { COLLECTION_MIGRATIONS_TABLE } from "./migrations.js";
import { RecordStore } from "./records.js";
import { COLLECTIONS_CHANGED, Collections } from "./registry.js";

export interface AttachedCollections {
  collections: Collections;
  records: RecordStore;
}

const attached = new WeakMap<Tenantbase, Promise<AttachedCollections>>();

/** Once per hub; later calls return the same collections. */
export function attachCollections(hub: Tenantbase): Promise<AttachedCollections> {
  let ready = attached.get(hub);
  if (!ready) {
    ready = (async () => {
      await hub.ready();
      const collections = new Collections(hub);
      // Before the load: a change committed meanwhile is in the load or signalled after it.
      hub.peers.subscribe((name, payload, report) => {
        if (name !== COLLECTIONS_CHANGED) return;
        const version = (payload as { version?: unknown } | undefined)?.version;
        // Retried until it succeeds; each failure is reported.
        return collections.reloadSoon(version, report);
      });
      await collections.load();
      await hub.addMigrationTrack({
        table: COLLECTION_MIGRATIONS_TABLE,
        migrations: () => collections.migrations(),
      });
      return { collections, records: new RecordStore(collections, hub.driver.dialect) };
    })();
    attached.set(hub, ready);
    ready.catch(() => attached.delete(hub));
  }
  return ready;
}
