import { spawn } from "node:child_process";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { createTenantbase, sqlite, sqlMigration, storageName } from "../../src/index.js";
import type { NotesDB } from "../helpers/hub.js";
import { tempDir } from "../helpers/temp.js";

const CHILD = join(import.meta.dirname, "fixtures", "writer-child.ts");

describe("durability (DESIGN invariant 5)", () => {
  it("keeps every acknowledged write when the process is killed with SIGKILL", async () => {
    const dir = join(tempDir(), "data");
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let errors = "";
    child.stderr!.on("data", (chunk) => (errors += chunk));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk;
        // Kill it mid-stream, without warning, after a good number of writes.
        if ((output.match(/^ack /gm) ?? []).length >= 3000) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      exited.then(() => reject(new Error(`writer exited early: ${errors}`)));
    });
    await exited;
    // Only whole lines count: the last one may have been cut by the kill.
    const acked = output
      .split("\n")
      .slice(0, -1)
      .filter((line) => line.startsWith("ack "))
      .map((line) => line.split(" ") as [string, string, string]);
    expect(acked.length).toBeGreaterThanOrEqual(3000);

    const hub = createTenantbase({
      driver: sqlite({ dir }),
      migrations: [
        sqlMigration(
          "0001_notes",
          "create table notes (id integer primary key, body text not null)",
        ),
      ],
    });
    for (const key of ["alpha", "beta", "gamma", "delta", "epsilon"]) {
      const file = new BetterSqlite3(join(dir, "tenants", `${storageName(key)}.db`));
      expect(file.pragma("integrity_check", { simple: true })).toBe("ok");
      file.close();
      const rows = await (await hub.tenant<NotesDB>(key)).db
        .selectFrom("notes")
        .select("body")
        .execute();
      const bodies = new Set(rows.map((r) => r.body));
      const mine = acked.filter(([, tenant]) => tenant === key).map(([, , body]) => body);
      for (const body of mine) expect(bodies.has(body), `${key} lost ${body}`).toBe(true);
      // Transactions are all or nothing, acknowledged or not.
      for (const body of bodies) {
        const n = Number(/^note-(\d+)/.exec(body)![1]);
        if (n % 3 === 0) {
          expect(bodies.has(`note-${n}`) && bodies.has(`note-${n}-pair`), body).toBe(true);
        }
      }
    }
    await hub.close();
  }, 120_000);
});
