/**
 * Migration sources besides TypeScript lists: a folder of `.sql` files, and
 * the output folder of drizzle-kit.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TenantbaseError } from "../tools/error.js";
import { digest, type ResolvedMigration, sqlMigration } from "./migration.js";

const DOWN_MARKER = /^--\s*(?:migrate:)?down\s*$/im;
const UP_MARKER = /^--\s*(?:migrate:)?up\s*$/im;

/**
 * `0001_init.sql`, `0002_add_index.sql`, ... in name order. A line `-- down`
 * starts the optional section that undoes the migration.
 */
export function fromSqlFolder(dir: string): ResolvedMigration[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  return files.map((file) => {
    const text = readFileSync(join(dir, file), "utf8");
    const downAt = text.search(DOWN_MARKER);
    const upText = (downAt >= 0 ? text.slice(0, downAt) : text).replace(UP_MARKER, "");
    const downText = downAt >= 0 ? text.slice(downAt).replace(DOWN_MARKER, "") : undefined;
    if (!upText.replace(/--.*$/gm, "").trim()) {
      throw new TenantbaseError("MIGRATION_INVALID", `Migration ${file} has no SQL to run.`);
    }
    return sqlMigration(file.replace(/\.sql$/, ""), upText, downText);
  });
}

interface DrizzleJournal {
  entries: Array<{ idx: number; tag: string }>;
}

/**
 * A drizzle-kit output folder: `<tag>.sql` files, statements separated by
 * `--> statement-breakpoint`, ordered by `meta/_journal.json` when present.
 */
export function fromDrizzleFolder(dir: string): ResolvedMigration[] {
  const journalPath = join(dir, "meta", "_journal.json");
  let tags: string[];
  if (existsSync(journalPath)) {
    const journal = JSON.parse(readFileSync(journalPath, "utf8")) as DrizzleJournal;
    tags = [...journal.entries].sort((a, b) => a.idx - b.idx).map((entry) => entry.tag);
  } else {
    tags = readdirSync(dir)
      .filter((name) => name.endsWith(".sql"))
      .sort()
      .map((name) => name.replace(/\.sql$/, ""));
  }
  return tags.map((tag) => {
    const text = readFileSync(join(dir, `${tag}.sql`), "utf8");
    const statements = text
      .split("--> statement-breakpoint")
      .map((statement) => statement.trim())
      .filter(Boolean);
    return sqlMigration(tag, statements, undefined, digest(text));
  });
}
