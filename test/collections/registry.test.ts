import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  attachCollections,
  COLLECTION_MIGRATIONS_TABLE,
  type RecordEvent,
  SUPERUSER,
  ValidationFailed,
} from "../../src/collections/index.js";
import { createTenantbase, sqlite, type TenantEvent } from "../../src/index.js";
import { notesMigration } from "../helpers/hub.js";
import { tempDir } from "../helpers/temp.js";

function open(dir: string) {
  return createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
}

describe("collections as tenant migrations", () => {
  it("rebuilds the same migrations at every start, so tenants never drift", async () => {
    const dir = join(tempDir(), "data");
    const hub = open(dir);
    const { collections, records } = await attachCollections(hub);
    expect(await attachCollections(hub)).toBe(await attachCollections(hub));
    await hub.tenants.create("early");
    await collections.create({ name: "posts", fields: [{ name: "title", type: "text" }] });
    await collections.update("posts", { fields: [{ name: "views", type: "number" }] });
    await collections.create({ name: "tmp" });
    await collections.delete("tmp");
    await hub.tenants.create("late");
    const posts = collections.require("posts");
    for (const key of ["early", "late"]) {
      await records.create(await hub.tenant(key), posts, SUPERUSER, { title: key, views: 1 });
    }
    const before = collections.migrations().map((m) => [m.name, m.checksum]);
    expect(before.map(([name]) => name)).toEqual([
      "0001_posts_create",
      "0002_posts_add_field_views",
      "0003_tmp_create",
      "0004_tmp_delete",
    ]);
    expect(hub.targetVersion()).toBe(5);
    expect((await hub.tenants.get("late")).schemaVersion).toBe(5);
    await hub.close();

    const again = open(dir);
    const reattached = await attachCollections(again);
    expect(reattached.collections.migrations().map((m) => [m.name, m.checksum])).toEqual(before);
    expect(reattached.collections.list().map((c) => c.name)).toEqual(["posts"]);
    for (const key of ["early", "late"]) {
      const handle = await again.tenant(key);
      const rows = await handle.db.selectFrom("posts").select(["title", "views"]).execute();
      expect(rows).toEqual([{ title: key, views: 1 }]);
      const applied = await handle.db
        .selectFrom(COLLECTION_MIGRATIONS_TABLE)
        .select("name")
        .execute();
      expect(applied).toHaveLength(4);
    }
    await again.close();
  });

  it("migrates open tenants on their next use after a change", async () => {
    const hub = open(join(tempDir(), "data"));
    const { collections, records } = await attachCollections(hub);
    await hub.tenants.create("a");
    await collections.create({ name: "items", fields: [{ name: "a", type: "text" }] });
    const handle = await hub.tenant("a");
    await records.create(handle, collections.require("items"), SUPERUSER, { a: "x" });
    await collections.update("items", { fields: [{ name: "b", type: "bool" }] });
    const items = collections.require("items");
    const created = await records.create(handle, items, SUPERUSER, { a: "y", b: true });
    expect(created).toMatchObject({ a: "y", b: true });
    const listed = await records.list(handle, items, SUPERUSER, {
      page: 1,
      perPage: 10,
      sort: "a",
    });
    expect(listed.items.map((r) => r.b)).toEqual([false, true]);
    await hub.close();
  });

  it("refuses a collection named like a table the app's own migrations made", async () => {
    const hub = open(join(tempDir(), "data"));
    const { collections } = await attachCollections(hub);
    await hub.tenants.create("a");
    const error = await collections.create({ name: "notes" }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationFailed);
    expect(error.fields.name.code).toBe("validation_collection_name_exists");
    expect(collections.migrations()).toHaveLength(0);
    await hub.close();
  });

  it("broadcasts a record event after each committed write, none on rollback", async () => {
    const hub = open(join(tempDir(), "data"));
    const { collections, records } = await attachCollections(hub);
    await hub.tenants.create("a");
    const posts = await collections.create({
      name: "posts",
      fields: [
        { name: "title", type: "text" },
        { name: "secret", type: "text", hidden: true },
      ],
      createRule: 'title != "nope"',
    });
    const events: TenantEvent[] = [];
    hub.subscribe("a", (event) => events.push(event));
    const handle = await hub.tenant("a");
    const user = { superuser: false, auth: { id: "u1" } };
    const created = await records.create(handle, posts, SUPERUSER, { title: "t", secret: "s" });
    expect(created.secret).toBe("s");
    await expect(records.create(handle, posts, user, { title: "nope" })).rejects.toThrow(
      "Failed to create record.",
    );
    await records.update(handle, posts, SUPERUSER, created.id as string, { title: "u" });
    await records.delete(handle, posts, SUPERUSER, created.id as string);
    expect(events.map((e) => [e.name, (e.payload as RecordEvent).action])).toEqual([
      ["record", "create"],
      ["record", "update"],
      ["record", "delete"],
    ]);
    const payload = events[0]!.payload as RecordEvent;
    expect(payload).toMatchObject({ collection: "posts", collectionId: posts.id });
    expect(payload.record).toMatchObject({ id: created.id, title: "t", secret: "s" });
    // listRule null: superusers only.
    await expect(records.list(handle, posts, user, { page: 1, perPage: 5 })).rejects.toThrow(
      "Only superusers",
    );
    expect((await records.list(handle, posts, SUPERUSER, { page: 1, perPage: 5 })).items).toEqual(
      [],
    );
    await hub.close();
  });
});
