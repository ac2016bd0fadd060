/**
 * Connects collections to a hub: loads the definitions from the catalog and
 * adds their migrations as a tenant migration track, so every tenant applies
 * them on wake, new tenants get them from the template, and the fleet
 * rollout runs them. The CLI's migrate command attaches the same track.
 */
import type { Tenantbase } from "../core/hub.js";
import { COLLECTION_MIGRATIONS_TABLE } from "./migrations.js";
import { RecordStore } from "./records.js";
import { Collections } from "./registry.js";

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
