import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createTenantbase,
  fromDrizzleFolder,
  fromSqlFolder,
  resolveMigrations,
  sqlite,
  TenantbaseError,
} from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";

function folder(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe("migration sources", () => {
  it("loads a folder of .sql files in name order, with optional down sections", async () => {
    const dir = folder({
      "0002_index.sql":
        "create index notes_body on notes(body);\n-- down\ndrop index notes_body;\n",
      "0001_init.sql":
        "-- up\ncreate table notes (id integer primary key, body text);\ncreate table tags (name text);\n",
      "README.md": "not a migration",
    });
    const migrations = fromSqlFolder(dir);
    expect(migrations.map((m) => m.name)).toEqual(["0001_init", "0002_index"]);
    expect(migrations[0]!.down).toBeUndefined();
    expect(typeof migrations[1]!.down).toBe("function");
    const hub = createTenantbase({ driver: sqlite({ dir: join(tempDir(), "data") }), migrations });
    await hub.tenants.create("a");
    const a = await hub.tenant("a");
    await a.db.insertInto("notes").values({ body: "x" }).execute();
    await a.db.insertInto("tags").values({ name: "y" }).execute();
    expect((await hub.tenants.get("a")).schemaVersion).toBe(2);
    await hub.close();
  });

  it("loads drizzle-kit output, split on statement breakpoints, in journal order", async () => {
    const dir = folder({
      "0000_first.sql":
        "CREATE TABLE `users` (`id` integer PRIMARY KEY NOT NULL, `name` text);\n--> statement-breakpoint\nCREATE INDEX `users_name` ON `users` (`name`);",
      "0001_second.sql": "ALTER TABLE `users` ADD `email` text;",
      "meta/_journal.json": JSON.stringify({
        entries: [
          { idx: 1, tag: "0001_second" },
          { idx: 0, tag: "0000_first" },
        ],
      }),
    });
    const migrations = fromDrizzleFolder(dir);
    expect(migrations.map((m) => m.name)).toEqual(["0000_first", "0001_second"]);
    const hub = createTenantbase({ driver: sqlite({ dir: join(tempDir(), "data") }), migrations });
    await hub.tenants.create("a");
    const a = await hub.tenant("a");
    await a.db.insertInto("users").values({ name: "ann", email: "ann@example.com" }).execute();
    await hub.close();
  });

  it("gives file migrations content checksums, so an edited file is detected", () => {
    const dir = folder({ "0001_init.sql": "create table a (x);" });
    const before = fromSqlFolder(dir)[0]!.checksum;
    writeFileSync(join(dir, "0001_init.sql"), "create table a (x, y);");
    expect(fromSqlFolder(dir)[0]!.checksum).not.toBe(before);
  });

  it("rejects invalid lists", () => {
    const up = async () => {};
    expect(() =>
      resolveMigrations([
        { name: "a", up },
        { name: "a", up },
      ]),
    ).toThrow(/used twice/);
    expect(() => resolveMigrations([{ name: "", up }])).toThrow(TenantbaseError);
    expect(() => resolveMigrations([{ name: "a" } as never])).toThrow(/no up/);
    expect(() => fromSqlFolder(folder({ "0001_empty.sql": "-- nothing here\n" }))).toThrow(
      /no SQL/,
    );
  });
});
