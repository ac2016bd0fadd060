import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createTenantbase, type Migration, sqlite, storageName } from "../../src/index.js";
import { cli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import definition from "../migrations/fixtures/definition.js";

const APP = join(import.meta.dirname, "..", "migrations", "fixtures", "definition.ts");
const [v1] = definition.migrations as [Migration, Migration];

/** Tenants a..e at v1 with one note; `c` holds two equal notes, so v2 (a unique index) fails there. */
async function fleet(): Promise<string> {
  const dir = join(tempDir(), "data");
  const hub = createTenantbase({ driver: sqlite({ dir }), migrations: [v1] });
  for (const key of ["a", "b", "c", "d", "e"]) {
    await hub.tenants.create(key);
    const t = await hub.tenant(key);
    await t.db.insertInto("notes").values({ body: "x" }).execute();
    if (key === "c") await t.db.insertInto("notes").values({ body: "x" }).execute();
  }
  await hub.close();
  return dir;
}

function applied(dir: string, key: string): string[] {
  const db = new BetterSqlite3(join(dir, "tenants", `${storageName(key)}.db`), { readonly: true });
  try {
    return (
      db.prepare("select name from _tenantbase_migrations order by seq").all() as Array<{
        name: string;
      }>
    ).map((r) => r.name);
  } finally {
    db.close();
  }
}

describe("tenantbase migrate", () => {
  it("trials, migrates a subset, continues past failures, reports status and rolls back", async () => {
    const dir = await fleet();
    const common = ["--data", dir, "--app", APP];

    const trial = await cli(["migrate", "--trial", "--continue-on-error", "--json", ...common]);
    expect(trial.code).toBe(1); // a tenant would fail
    const trialRun = JSON.parse(trial.stdout);
    expect(trialRun).toMatchObject({ kind: "trial", counts: { wouldMigrate: 4, wouldFail: 1 } });
    expect(applied(dir, "a")).toEqual(["0001_notes"]);

    const subset = await cli(["migrate", "--tenants", "b,a", "--json", ...common]);
    expect(subset.code).toBe(0);
    const subsetRun = JSON.parse(subset.stdout);
    expect(subsetRun.counts).toMatchObject({ total: 2, migrated: 2 });
    expect(applied(dir, "a")).toEqual(["0001_notes", "0002_unique_body"]);
    expect(applied(dir, "d")).toEqual(["0001_notes"]);

    // For people: a summary table and the failing tenant with its error; exit code 1.
    const rest = await cli(["migrate", "--continue-on-error", ...common]);
    expect(rest.code).toBe(1);
    expect(rest.stdout).toMatch(/migrated\s+2/);
    expect(rest.stdout).toMatch(/failed\s+1/);
    expect(rest.stdout).toMatch(/\bc\s+.*UNIQUE/i);

    const status = await cli(["migrate", "status", "--json", ...common]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      targetVersion: 2,
      tenants: 5,
      behind: 1,
      versions: [
        { version: 2, tenants: 4 },
        { version: 1, tenants: 1 },
      ],
      failed: [{ key: "c" }],
    });
    const people = await cli(["migrate", "status", ...common]);
    expect(people.stdout).toMatch(/target version 2; 5 tenants, 1 behind, 1 failed/);

    const rollback = await cli(["migrate", "rollback", String(subsetRun.id), "--json", ...common]);
    expect(rollback.code).toBe(0);
    expect(JSON.parse(rollback.stdout)).toMatchObject({
      kind: "rollback",
      counts: { rolledBack: 2 },
    });
    expect(applied(dir, "a")).toEqual(["0001_notes"]);
    expect(applied(dir, "b")).toEqual(["0001_notes"]);
    expect(applied(dir, "d")).toEqual(["0001_notes", "0002_unique_body"]);

    // Again: nothing is left to roll back, and the summary says so instead of an empty table.
    const again = await cli(["migrate", "rollback", String(subsetRun.id), ...common]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/\(rollback\) completed/);
    expect(again.stdout).toMatch(
      new RegExp(`no tenant is left to roll back: run ${subsetRun.id} migrated none`),
    );
    expect(again.stdout).not.toMatch(/OUTCOME/);
    expect(applied(dir, "d")).toEqual(["0001_notes", "0002_unique_body"]);
  });

  it("rejects bad arguments with a clear message and a non-zero exit", async () => {
    const dir = await fleet();
    const zero = await cli(["migrate", "--concurrency", "0", "--data", dir, "--app", APP]);
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toMatch(/--concurrency must be a positive whole number/);
    const unknown = await cli(["migrate", "--tenants", "nope", "--data", dir, "--app", APP]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/Unknown tenants: "nope"/);
    const noRun = await cli(["migrate", "rollback", "42", "--data", dir, "--app", APP]);
    expect(noRun.code).not.toBe(0);
    expect(noRun.stderr).toMatch(/no migration run 42/);
    const order = await cli(["migrate", "--order", "sideways", "--data", dir]);
    expect(order.stderr).toMatch(/--order must be/);
  });
});
