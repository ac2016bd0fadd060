import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import { describe, expect, it } from "vitest";
import {
  createTenantbase,
  type Migration,
  type ResolvedMigration,
  sqlite,
  TenantbaseError,
  TenantMigrationFailed,
  TenantSchemaTooNew,
} from "../../src/index.js";
import { notesMigration } from "../helpers/hub.js";
import { tempDir } from "../helpers/temp.js";

const addTag: Migration = {
  name: "0002_tag",
  async up(db) {
    await db.schema.alterTable("notes").addColumn("tag", "text").execute();
  },
  async down(db) {
    await db.schema.alterTable("notes").dropColumn("tag").execute();
  },
};

const brokenIndex: Migration = {
  name: "0003_broken",
  async up(db) {
    await db.schema.createTable("half_done").addColumn("x", "text").execute();
    await sql`this is not sql`.execute(db);
  },
};

async function columns(hubDir: string, storage: string): Promise<string[]> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(join(hubDir, "tenants", `${storage}.db`), { readonly: true });
  try {
    return (
      db.prepare("select name from pragma_table_info('notes')").all() as Array<{ name: string }>
    ).map((r) => r.name);
  } finally {
    db.close();
  }
}

describe("migrations on wake", () => {
  it("run pending migrations before the first use, all or nothing", async () => {
    const dir = join(tempDir(), "data");
    const v1 = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    await v1.tenants.create("acme");
    await (await v1.tenant("acme")).db.insertInto("notes").values({ body: "kept" }).execute();
    await v1.close();

    // A deployment with one good and one failing migration: nothing of either lands.
    const broken = createTenantbase({
      driver: sqlite({ dir }),
      migrations: [notesMigration, addTag, brokenIndex],
    });
    const error = await broken.tenant("acme").catch((e) => e);
    expect(error).toBeInstanceOf(TenantMigrationFailed);
    expect(error.message).toMatch(/0003_broken|syntax/);
    expect(await columns(dir, "t-acme")).toEqual(["id", "body"]);
    const info = await broken.tenants.get("acme");
    expect(info.status).toBe("failed");
    expect(info.schemaVersion).toBe(1);
    // Every access keeps failing, without retrying, until an operator does.
    await expect(broken.tenant("acme")).rejects.toThrow(TenantMigrationFailed);
    await broken.close();

    const fixed = createTenantbase({
      driver: sqlite({ dir }),
      migrations: [notesMigration, addTag],
    });
    await expect(fixed.tenant("acme")).rejects.toThrow(TenantMigrationFailed);
    await fixed.migrations.retry("acme");
    const acme = await fixed.tenant("acme");
    expect(await acme.db.selectFrom("notes").select(["body", "tag"]).execute()).toEqual([
      { body: "kept", tag: null },
    ]);
    expect(await fixed.tenants.get("acme")).toMatchObject({
      status: "active",
      schemaVersion: 2,
      error: null,
    });
    await fixed.close();
  });

  it("refuse a database newer than the code, without marking it failed", async () => {
    const dir = join(tempDir(), "data");
    const v2 = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration, addTag] });
    await v2.tenants.create("acme");
    await v2.close();
    const v1 = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    const error = await v1.tenant("acme").catch((e) => e);
    expect(error).toBeInstanceOf(TenantSchemaTooNew);
    expect(error.message).toMatch(/0002_tag/);
    expect((await v1.tenants.get("acme")).status).toBe("active");
    await v1.close();
    expect(await columns(dir, "t-acme")).toEqual(["id", "body", "tag"]);
  });

  it("detect an applied migration that was changed afterwards", async () => {
    const dir = join(tempDir(), "data");
    const v1 = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    await v1.tenants.create("acme");
    await v1.close();
    const changed: Migration = {
      name: notesMigration.name,
      async up(db) {
        await db.schema.createTable("notes").addColumn("other", "text").execute();
      },
    };
    const v1b = createTenantbase({ driver: sqlite({ dir }), migrations: [changed, addTag] });
    const error = await v1b.tenant("acme").catch((e) => e);
    expect(error).toBeInstanceOf(TenantbaseError);
    expect(error.code).toBe("MIGRATION_DRIFT");
    expect(error.message).toMatch(/0001_notes was changed/);
    // Nothing ran: no tag column.
    expect(await columns(dir, "t-acme")).toEqual(["id", "body"]);
    await v1b.close();
  });

  it("provision new tenants at the current version from a template, without replaying migrations", async () => {
    let runs = 0;
    const counted: Migration = {
      name: "0001_counted",
      async up(db) {
        runs++;
        await db.schema.createTable("notes").addColumn("body", "text").execute();
      },
    };
    const hub = createTenantbase({
      driver: sqlite({ dir: join(tempDir(), "data") }),
      migrations: [counted],
    });
    for (let i = 0; i < 50; i++) await hub.tenants.create(`t${i}`);
    expect(runs).toBe(1);
    for (let i = 0; i < 50; i++) {
      await (await hub.tenant(`t${i}`)).db.insertInto("notes").values({ body: "x" }).execute();
      expect((await hub.tenants.get(`t${i}`)).schemaVersion).toBe(1);
    }
    await hub.close();
  });

  it("bring an open tenant to a new migration track before its next use", async () => {
    const dir = join(tempDir(), "data");
    const hub = createTenantbase({ driver: sqlite({ dir }), migrations: [notesMigration] });
    await hub.tenants.create("acme");
    const acme = await hub.tenant("acme");
    await acme.db.insertInto("notes").values({ body: "x" }).execute();
    const extra: ResolvedMigration[] = [];
    await hub.addMigrationTrack({ table: "_extra_migrations", migrations: () => extra });
    extra.push({
      name: "0001_extra",
      checksum: "extra-1",
      async up(db: Kysely<any>) {
        await db.schema.createTable("extra").addColumn("x", "text").execute();
      },
    });
    await hub.reloadSchema();
    await acme.db.insertInto("extra").values({ x: "y" }).execute();
    expect((await hub.tenants.get("acme")).schemaVersion).toBe(2);
    await hub.close();
  });
});
