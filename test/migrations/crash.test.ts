import { spawn } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createTenantbase, type Migration, sqlite, storageName } from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";
import definition, { FILLER_ROWS } from "./fixtures/slow-definition.js";

const TENANTS = 800;
const CHILD = join(import.meta.dirname, "fixtures", "rollout-child.ts");
const keyOf = (i: number) => `t${String(i).padStart(4, "0")}`;
const [v1] = definition.migrations as [Migration, Migration];

type State = "untouched" | "migrated";

/** Reads a tenant's file directly and says which whole state it is in; throws on anything in between. */
function stateOf(dir: string, key: string): State {
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
    const rows = (db.prepare("select count(*) as n from notes").get() as { n: number }).n;
    const indexes = db
      .prepare(
        "select count(*) as n from sqlite_master where type = 'index' and name = 'notes_tag'",
      )
      .get() as { n: number };
    const state = { columns, applied, rows, index: indexes.n };
    if (applied.length === 1) {
      expect(state, key).toEqual({
        columns: ["id", "body"],
        applied: ["0001_notes"],
        rows: 1,
        index: 0,
      });
      return "untouched";
    }
    expect(state, key).toEqual({
      columns: ["id", "body", "tag"],
      applied: ["0001_notes", "0002_filler"],
      rows: 1 + FILLER_ROWS,
      index: 1,
    });
    return "migrated";
  } finally {
    db.close();
  }
}

describe("a rollout killed mid-run", () => {
  it("leaves every tenant whole, is reconciled as interrupted, and resumes", async () => {
    const dir = join(tempDir(), "data");
    const setup = createTenantbase({ driver: sqlite({ dir }), migrations: [v1] });
    for (let i = 0; i < TENANTS; i++) {
      await setup.tenants.create(keyOf(i));
      await (await setup.tenant(keyOf(i))).db
        .insertInto("notes")
        .values({ body: "mine" })
        .execute();
    }
    await setup.close();

    // The rollout runs in a child process (with its worker threads); kill -9 it mid-run.
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr!.on("data", (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const killedAt = await new Promise<number>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk;
        const done = [...output.matchAll(/done (\d+)/g)].map((m) => Number(m[1]));
        const last = done.at(-1) ?? 0;
        if (last >= 50) {
          child.kill("SIGKILL");
          resolve(last);
        }
      });
      exited.then((code) =>
        reject(new Error(`rollout child exited (${code}) before the kill: ${output}`)),
      );
    });
    await exited;
    expect(output).not.toContain("finished");

    // Every tenant is fully migrated or untouched; some of each.
    const states = Array.from({ length: TENANTS }, (_, i) => stateOf(dir, keyOf(i)));
    const migrated = states.filter((s) => s === "migrated").length;
    expect(migrated).toBeGreaterThanOrEqual(killedAt);
    expect(migrated).toBeLessThan(TENANTS);

    // The next process sees the run interrupted, with outcomes read from the tenants themselves.
    const hub = createTenantbase({
      driver: sqlite({ dir }),
      migrations: definition.migrations,
      workerModule: pathToFileURL(join(import.meta.dirname, "fixtures", "slow-definition.ts")).href,
    });
    const status = await hub.migrations.status();
    const crashed = status.runs[0]!;
    expect(crashed).toMatchObject({ kind: "migrate", status: "interrupted" });
    expect(crashed.counts).toMatchObject({
      total: TENANTS,
      migrated,
      notReached: TENANTS - migrated,
      pending: 0,
      failed: 0,
    });
    expect(status.versions).toEqual(
      [
        { version: 2, tenants: migrated },
        { version: 1, tenants: TENANTS - migrated },
      ].filter((v) => v.tenants > 0),
    );

    // Resume: only the tenants not yet at the target are migrated.
    const resumed = await hub.migrations.run({ concurrency: 2 });
    expect(resumed.counts).toMatchObject({
      migrated: TENANTS - migrated,
      skipped: migrated,
      failed: 0,
    });
    for (let i = 0; i < TENANTS; i += 37) expect(stateOf(dir, keyOf(i))).toBe("migrated");
    expect((await hub.migrations.status()).versions).toEqual([{ version: 2, tenants: TENANTS }]);
    await hub.close();
  });
});
