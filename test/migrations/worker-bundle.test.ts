import { join } from "node:path";
import { pathToFileURL } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  createTenantbase,
  type Migration,
  sqlite,
  sqlMigration,
  storageName,
} from "../../src/index.js";
import { createWorkerExecutor, serializeTracks } from "../../src/migrations/fleet.js";
import { resolveMigrations } from "../../src/migrations/migration.js";
import { TENANT_MIGRATIONS_TABLE } from "../../src/migrations/migrator.js";
import { fleetWorkerBundle } from "../../src/migrations/worker-bundle.js";
import { tempDir } from "../helpers/temp.js";
import definition from "./fixtures/definition.js";

const [notesV1] = definition.migrations as [Migration];

const v1 = sqlMigration(
  "0001_items",
  "create table items (id integer primary key)",
  "drop table items",
);
const v2 = sqlMigration(
  "0002_items_note",
  ["alter table items add column note text", "create index items_note on items (note)"],
  ["drop index items_note", "alter table items drop column note"],
);
const tracks = serializeTracks([
  { table: TENANT_MIGRATIONS_TABLE, migrations: resolveMigrations([v1, v2]) },
]);

describe("fleet worker bundle", () => {
  it("is one data: module holding the driver and the recipes, built once per set of modules", async () => {
    const driver = sqlite({ dir: join(tempDir(), "data") });
    const modules = [driver.workerConfig().module, tracks[0]!.migrations[0]!.recipe!.module];
    const bundle = await fleetWorkerBundle(modules);
    expect(bundle?.protocol).toBe("data:");
    const code = Buffer.from(bundle!.pathname.split(",")[1]!, "base64").toString("utf8");
    // Kysely is inside; better-sqlite3 (native) is imported from where this package resolves it.
    expect(code).not.toMatch(/^import .* from ["']kysely["'];$/m);
    expect(code).toContain("// node_modules/kysely/dist/esm/kysely.js");
    expect(code).toContain(import.meta.resolve("better-sqlite3"));
    expect(await fleetWorkerBundle([...modules].reverse())).toBe(bundle);
    await driver.close();
  });

  it("migrates tenant files from bundled worker threads", async () => {
    const dir = join(tempDir(), "data");
    const setup = createTenantbase({ driver: sqlite({ dir }), migrations: [v1] });
    for (const key of ["a", "b", "c"]) await setup.tenants.create(key);
    await setup.close();

    const driver = sqlite({ dir });
    const executor = await createWorkerExecutor({
      driver: driver.workerConfig(),
      tracks,
      threads: 2,
    });
    try {
      expect(executor.bundled).toBe(true);
      const results = await Promise.all(
        ["a", "b", "c"].map((key) =>
          executor.run({ kind: "migrate", storage: storageName(key), runId: 7 }),
        ),
      );
      for (const result of results)
        expect(result).toMatchObject({ outcome: "migrated", from: 1, to: 2 });
    } finally {
      await executor.close();
      await driver.close();
    }
    const db = new BetterSqlite3(join(dir, "tenants", `${storageName("b")}.db`), {
      readonly: true,
    });
    try {
      const applied = db
        .prepare(`select name, run_id from ${TENANT_MIGRATIONS_TABLE} order by seq`)
        .all();
      expect(applied).toEqual([
        { name: "0001_items", run_id: null },
        { name: "0002_items_note", run_id: 7 },
      ]);
    } finally {
      db.close();
    }
  });

  it("holds a definition's function migrations, and falls back to modules one by one", async () => {
    const dir = join(tempDir(), "data");
    const setup = createTenantbase({ driver: sqlite({ dir }), migrations: [notesV1] });
    for (const key of ["a", "b"]) await setup.tenants.create(key);
    await setup.close();
    const driver = sqlite({ dir });
    const functionTracks = serializeTracks([
      { table: TENANT_MIGRATIONS_TABLE, migrations: resolveMigrations(definition.migrations) },
    ]);
    for (const [fixture, bundled] of [
      ["definition.ts", true],
      ["unbundled-definition.ts", false],
    ] as const) {
      const executor = await createWorkerExecutor({
        driver: driver.workerConfig(),
        tracks: functionTracks,
        workerModule: pathToFileURL(join(import.meta.dirname, "fixtures", fixture)).href,
        threads: 1,
      });
      try {
        expect(executor.bundled).toBe(bundled);
        const key = bundled ? "a" : "b";
        const result = await executor.run({ kind: "migrate", storage: storageName(key), runId: 1 });
        expect(result).toMatchObject({ outcome: "migrated", from: 1, to: 2 });
      } finally {
        await executor.close();
      }
    }

    const broken = { ...driver.workerConfig(), exportName: "NoSuchDriver" };
    await expect(createWorkerExecutor({ driver: broken, tracks, threads: 1 })).rejects.toThrow(
      /Fleet workers could not start: .*has no export NoSuchDriver/,
    );
    await driver.close();
  });
});
