import type { Kysely } from "kysely";
import { describe, expect, it } from "vitest";
import { resolveMigrations } from "../../src/migrations/migration.js";
import { planMigrations } from "../../src/migrations/migrator.js";

// The same migration as two build tools print it: one keeps comments and
// double quotes, the other drops comments and prints single quotes.
const asTscPrintsIt = {
  name: "0002_tag",
  async up(db: Kysely<any>) {
    // Tags are optional.
    await db.schema.alterTable("notes").addColumn("tag", "text").execute(); /* no index yet */
  },
};
const asEsbuildPrintsIt = {
  name: "0002_tag",
  async up(db: Kysely<any>) {
    await db.schema.alterTable("notes").addColumn("tag", "text").execute();
  },
};
const changed = {
  name: "0002_tag",
  async up(db: Kysely<any>) {
    await db.schema.alterTable("notes").addColumn("label", "text").execute();
  },
};

describe("function migration checksums", () => {
  it("ignore comments, whitespace and quote style, and see a changed identifier", () => {
    const [a] = resolveMigrations([asTscPrintsIt]);
    const [b] = resolveMigrations([asEsbuildPrintsIt]);
    const [c] = resolveMigrations([changed]);
    expect(a!.checksum).toBe(b!.checksum);
    expect(c!.checksum).not.toBe(a!.checksum);
    // A comment inside a string literal is content, not a comment.
    const [d] = resolveMigrations([{ name: "x", up: () => void "/* kept */" }]);
    const [e] = resolveMigrations([{ name: "x", up: () => void "" }]);
    expect(d!.checksum).not.toBe(e!.checksum);
  });

  it("accept the checksum earlier versions recorded (comments counted) as the same migration", () => {
    const [resolved] = resolveMigrations([asTscPrintsIt]);
    expect(resolved!.earlierChecksums).toHaveLength(1);
    const earlier = resolved!.earlierChecksums![0]!;
    expect(earlier).not.toBe(resolved!.checksum);
    const applied = [{ seq: 1, name: "0002_tag", checksum: earlier, applied_at: "", run_id: null }];
    expect(planMigrations(applied as never, [resolved!]).kind).toBe("current");
    // Anything else is still drift.
    const other = [{ ...applied[0]!, checksum: "0123456789abcdef" }];
    expect(planMigrations(other as never, [resolved!]).kind).toBe("drift");
    // Without comments there is nothing earlier to accept.
    expect(resolveMigrations([asEsbuildPrintsIt])[0]!.earlierChecksums).toBeUndefined();
  });
});
