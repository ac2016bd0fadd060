import { join } from "node:path";
import { pathToFileURL } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqliteStorageDriver } from "../../src/drivers/sqlite/index.js";
import {
  createTenantbase,
  type Migration,
  type RunProgress,
  sqlite,
  sqlMigration,
  storageName,
  type Tenantbase,
} from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";
import definition from "./fixtures/definition.js";

const [v1, v2] = definition.migrations as [Migration, Migration];
const workerModule = pathToFileURL(join(import.meta.dirname, "fixtures", "definition.ts")).href;

/** Creates `count` tenants at v1; tenants in `bad` get duplicate rows, so v2 fails on them. */
async function fleet(count: number, bad: Set<number> = new Set()): Promise<string> {
  const dir = join(tempDir(), "data");
  const hub = createTenantbase({ driver: sqlite({ dir }), migrations: [v1] });
  for (let i = 0; i < count; i++) {
    const key = `tenant-${String(i).padStart(5, "0")}`;
    await hub.tenants.create(key);
    const t = await hub.tenant(key);
    await t.db.insertInto("notes").values({ body: "hello" }).execute();
    if (bad.has(i)) await t.db.insertInto("notes").values({ body: "hello" }).execute();
  }
  await hub.close();
  return dir;
}

function v2Hub(dir: string, options: { workerModule?: boolean } = {}): Tenantbase {
  return createTenantbase({
    driver: sqlite({ dir }),
    migrations: [v1, v2],
    ...(options.workerModule ? { workerModule } : {}),
  });
}

/** The tenant's schema straight from its file: columns of notes, and applied migration names. */
function schemaOf(
  dir: string,
  key: string,
): { columns: string[]; applied: string[]; indexes: string[] } {
  const db = new BetterSqlite3(join(dir, "tenants", `${storageName(key)}.db`), { readonly: true });
  try {
    const columns = (
      db.prepare("select name from pragma_table_info('notes')").all() as Array<{ name: string }>
    ).map((r) => r.name);
    const applied = (
      db.prepare("select name from _tenantbase_migrations order by seq").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    const indexes = (
      db
        .prepare("select name from sqlite_master where type = 'index' and tbl_name = 'notes'")
        .all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
    return { columns, applied, indexes };
  } finally {
    db.close();
  }
}

const keyOf = (i: number) => `tenant-${String(i).padStart(5, "0")}`;

describe("fleet rollout", () => {
  it("migrates thousands of tenants in worker threads and records every outcome", async () => {
    const dir = await fleet(1500);
    const hub = v2Hub(dir, { workerModule: true });
    const progress: RunProgress[] = [];
    const run = await hub.migrations.run({
      workers: true,
      concurrency: 2,
      onProgress: (p) => progress.push(p),
    });
    expect(run).toMatchObject({ kind: "migrate", status: "completed", targetVersion: 2 });
    expect(run.counts).toMatchObject({ total: 1500, migrated: 1500, failed: 0, pending: 0 });
    expect(progress.at(-1)).toMatchObject({ done: 1500, total: 1500 });
    const status = await hub.migrations.status();
    expect(status.versions).toEqual([{ version: 2, tenants: 1500 }]);
    expect(status.behind).toBe(0);
    expect(schemaOf(dir, keyOf(7))).toMatchObject({
      columns: ["id", "body", "tag"],
      applied: ["0001_notes", "0002_unique_body"],
    });
    const outcomes = await hub.migrations.outcomes(run.id, { limit: 3 });
    expect(outcomes[0]).toMatchObject({
      key: keyOf(0),
      outcome: "migrated",
      fromVersion: 1,
      toVersion: 2,
    });
    // Running again: everyone is up to date, nothing is opened.
    const again = await hub.migrations.run({ workers: true });
    expect(again.counts).toMatchObject({ total: 1500, skipped: 1500, migrated: 0 });
    await hub.close();
  });

  it("runs SQL migrations in workers and function migrations in this thread when no module is given", async () => {
    const dir = await fleet(60);
    const sqlHub = createTenantbase({
      driver: sqlite({ dir }),
      migrations: [
        v1,
        sqlMigration(
          "0002_sql",
          "alter table notes add column tag text",
          "alter table notes drop column tag",
        ),
      ],
    });
    const run = await sqlHub.migrations.run({ workers: true });
    expect(run.counts.migrated).toBe(60);
    await sqlHub.close();

    const dir2 = await fleet(60);
    const fnHub = v2Hub(dir2);
    const run2 = await fnHub.migrations.run({ concurrency: 4 });
    expect(run2.counts.migrated).toBe(60);
    expect(schemaOf(dir2, keyOf(59)).columns).toEqual(["id", "body", "tag"]);
    await fnHub.close();
  });

  it("trial reports who would fail and changes nothing", async () => {
    const bad = new Set([3, 17, 42]);
    const dir = await fleet(80, bad);
    const hub = v2Hub(dir, { workerModule: true });
    const run = await hub.migrations.run({ workers: true, trial: true, onError: "continue" });
    expect(run).toMatchObject({ kind: "trial", status: "completed" });
    expect(run.counts).toMatchObject({ wouldMigrate: 77, wouldFail: 3, migrated: 0 });
    const failing = await hub.migrations.outcomes(run.id, { outcome: "would-fail" });
    expect(failing.map((o) => o.key)).toEqual([3, 17, 42].map(keyOf));
    expect(failing[0]!.error).toMatch(/UNIQUE/i);
    for (let i = 0; i < 80; i++) {
      expect(schemaOf(dir, keyOf(i))).toMatchObject({
        columns: ["id", "body"],
        applied: ["0001_notes"],
      });
    }
    expect((await hub.migrations.status()).versions).toEqual([{ version: 1, tenants: 80 }]);
    expect((await hub.tenants.get(keyOf(3))).status).toBe("active");
    await hub.close();
  });

  it("stops at the first failure, or continues past failures, leaving every tenant whole", async () => {
    const bad = new Set([10, 50]);
    const dir = await fleet(100, bad);
    const hub = v2Hub(dir, { workerModule: true });
    const stopped = await hub.migrations.run({ workers: true, concurrency: 1, onError: "stop" });
    expect(stopped.status).toBe("stopped");
    expect(stopped.counts.failed).toBe(1);
    // One worker, two tasks in flight: at most one tenant past the failure was already on its way.
    expect(stopped.counts.migrated).toBeGreaterThanOrEqual(10);
    expect(stopped.counts.migrated).toBeLessThanOrEqual(11);
    expect(stopped.counts.notReached).toBe(100 - 1 - stopped.counts.migrated);
    expect(await hub.tenants.get(keyOf(10))).toMatchObject({ status: "failed" });
    expect(schemaOf(dir, keyOf(10)).columns).toEqual(["id", "body"]);
    expect(schemaOf(dir, keyOf(99)).columns).toEqual(["id", "body"]);

    // Resume with --continue-on-error: the rest migrate, the bad ones are reported.
    const resumed = await hub.migrations.run({ workers: true, onError: "continue" });
    expect(resumed.status).toBe("completed");
    expect(resumed.counts).toMatchObject({
      failed: 2,
      migrated: 100 - 2 - stopped.counts.migrated,
      skipped: stopped.counts.migrated,
    });
    const status = await hub.migrations.status();
    expect(status.failed.map((f) => f.key)).toEqual([keyOf(10), keyOf(50)]);
    expect(status.versions).toEqual([
      { version: 2, tenants: 98 },
      { version: 1, tenants: 2 },
    ]);
    // A failed tenant answers TenantMigrationFailed until fixed and retried.
    await expect(hub.tenant(keyOf(50))).rejects.toThrow(/failed to migrate/);
    const file = new BetterSqlite3(join(dir, "tenants", `${storageName(keyOf(50))}.db`));
    file.prepare("delete from notes where rowid > 1").run();
    file.close();
    const retried = await hub.migrations.run({ workers: true, tenants: [keyOf(50)] });
    expect(retried.counts.migrated).toBe(1);
    expect((await hub.tenants.get(keyOf(50))).status).toBe("active");
    await hub.close();
  });

  it("rolls back exactly the tenants a run migrated, and holds them there until the next run", async () => {
    const dir = await fleet(40);
    const hub = v2Hub(dir, { workerModule: true });
    const subset = [keyOf(5), keyOf(1), keyOf(30)];
    const first = await hub.migrations.run({ workers: true, tenants: subset });
    expect((await hub.migrations.outcomes(first.id)).map((o) => o.key)).toEqual(subset);
    const second = await hub.migrations.run({ workers: true, tenants: (t) => t.key.endsWith("2") });
    expect(second.counts.migrated).toBe(4);

    const rollback = await hub.migrations.rollback(first.id, { workers: true });
    expect(rollback).toMatchObject({ kind: "rollback", rollbackOf: first.id, status: "completed" });
    expect(rollback.counts).toMatchObject({ total: 3, rolledBack: 3 });
    for (const key of subset)
      expect(schemaOf(dir, key)).toMatchObject({
        columns: ["id", "body"],
        applied: ["0001_notes"],
      });
    // The second run's tenants are untouched.
    expect(schemaOf(dir, keyOf(12)).applied).toEqual(["0001_notes", "0002_unique_body"]);
    expect((await hub.migrations.status()).pinned).toBe(3);

    // Held: waking does not re-apply the rolled-back migration.
    const t = await hub.tenant(keyOf(5));
    await t.db.insertInto("notes").values({ body: "after rollback" }).execute();
    expect(schemaOf(dir, keyOf(5)).applied).toEqual(["0001_notes"]);
    // Rolling back again finds nothing left to undo.
    const twice = await hub.migrations.rollback(first.id, { workers: true });
    expect(twice.counts.total).toBe(0);
    await expect(hub.migrations.rollback(9999)).rejects.toThrow(/no migration run/);

    // The next run moves everyone to the code's version and releases the hold.
    const next = await hub.migrations.run({ workers: true });
    expect(next.counts.migrated).toBe(40 - 4);
    expect((await hub.migrations.status()).pinned).toBe(0);
    expect(schemaOf(dir, keyOf(5)).applied).toEqual(["0001_notes", "0002_unique_body"]);
    await hub.close();
  });

  it("loses nothing written by concurrent traffic while the fleet migrates", async () => {
    const dir = await fleet(200);
    const hub = v2Hub(dir, { workerModule: true });
    let writing = true;
    const written = new Map<string, number>();
    const writers = Array.from({ length: 8 }, async (_, w) => {
      let n = 0;
      while (writing) {
        // Traffic on the even tenants only: the odd ones are left for the rollout itself.
        const key = keyOf(((w * 37 + n * 13) % 100) * 2);
        const t = await hub.tenant(key);
        await t.db
          .insertInto("notes")
          .values({ body: `w${w}-${n}` })
          .execute();
        written.set(key, (written.get(key) ?? 0) + 1);
        n++;
        // Like request traffic, give the event loop a turn (worker results arrive there).
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const run = await hub.migrations.run({ workers: true, onError: "continue" });
    writing = false;
    await Promise.all(writers);
    // Traffic wakes tenants, and a wake migrates: those the rollout then finds up to date.
    expect(run.counts).toMatchObject({ failed: 0, notReached: 0 });
    expect(run.counts.migrated + run.counts.skipped).toBe(200);
    expect(run.counts.migrated).toBeGreaterThanOrEqual(100);
    let total = 0;
    for (let i = 0; i < 200; i++) {
      const key = keyOf(i);
      const rows = await (await hub.tenant(key)).db.selectFrom("notes").select("body").execute();
      expect(rows.length).toBe(1 + (written.get(key) ?? 0));
      total += written.get(key) ?? 0;
      expect(schemaOf(dir, key).columns).toEqual(["id", "body", "tag"]);
    }
    expect(total).toBeGreaterThan(0);
    await hub.close();
  });

  it("migrates a tenant that another connection (another process) has open", async () => {
    const dir = await fleet(3);
    const other = new BetterSqlite3(join(dir, "tenants", `${storageName(keyOf(1))}.db`));
    other.pragma("journal_mode = WAL");
    expect(other.prepare("select count(*) as n from notes").get()).toEqual({ n: 1 });
    const hub = v2Hub(dir, { workerModule: true });
    const run = await hub.migrations.run({ workers: true });
    expect(run.counts).toMatchObject({ migrated: 3, failed: 0 });
    // The other connection sees the new schema, and can still write.
    other.prepare("insert into notes (body, tag) values ('from elsewhere', 'x')").run();
    other.close();
    expect(schemaOf(dir, keyOf(1)).columns).toEqual(["id", "body", "tag"]);
    await hub.close();
  });

  it("rejects bad options with clear errors", async () => {
    const dir = await fleet(2);
    const hub = v2Hub(dir);
    await expect(hub.migrations.run({ concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(hub.migrations.run({ tenants: ["nope"] })).rejects.toThrow(/Unknown tenants/);
    await expect(hub.migrations.run({ onError: "explode" as never })).rejects.toThrow(/onError/);
    await expect(hub.migrations.run({ order: "sideways" as never })).rejects.toThrow(/order/);
    await hub.close();
  });

  it("records a run whose worker threads cannot start as stopped, and changes no tenant", async () => {
    const dir = await fleet(3);
    class NoWorkers extends SqliteStorageDriver {
      override workerConfig() {
        return { ...super.workerConfig(), exportName: "NoSuchDriver" };
      }
    }
    const hub = createTenantbase({
      driver: new NoWorkers({ dir }),
      migrations: [v1, v2],
      workerModule,
    });
    await expect(hub.migrations.run({ workers: true })).rejects.toThrow(
      /Fleet workers could not start/,
    );
    const [run] = await hub.migrations.runs({ limit: 1 });
    expect(run).toMatchObject({ kind: "migrate", status: "stopped" });
    expect(run!.counts).toMatchObject({ total: 3, notReached: 3, failed: 0 });
    const status = await hub.migrations.status();
    expect(status).toMatchObject({ behind: 3, failed: [] });
    expect(schemaOf(dir, keyOf(0)).applied).toEqual(["0001_notes"]);
    // In this thread the same run goes through.
    const next = await hub.migrations.run({ workers: false });
    expect(next.counts.migrated).toBe(3);
    await hub.close();
  });
});
