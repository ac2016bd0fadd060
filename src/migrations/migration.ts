/**
 * Migrations: what they are, and how a list of them is checked and identified.
 */
import { createHash } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { TenantbaseError } from "../tools/error.js";

export interface Migration {
  /** Unique; migrations run in the order given. */
  name: string;
  up(db: Kysely<any>): Promise<void> | void;
  down?(db: Kysely<any>): Promise<void> | void;
  /**
   * Identifies the migration's content, to detect an applied migration that
   * was changed afterwards. Defaults to a digest of the SQL (file sources) or
   * of the functions' source text (TypeScript migrations); set it to pin it.
   */
  checksum?: string;
  /**
   * How a worker thread rebuilds this migration: it imports `module` and calls
   * its export `export` with `args` (structured-clonable). Set by file sources
   * and generated migrations; fleet rollouts then run them on every core.
   */
  recipe?: MigrationRecipe;
}

export interface MigrationRecipe {
  module: string;
  export: string;
  args: unknown[];
}

/** A migration with its checksum settled. */
export interface ResolvedMigration extends Migration {
  readonly checksum: string;
  /**
   * What earlier versions of Tenantbase computed for the same functions: a
   * tenant that recorded one of these applied this very migration.
   */
  readonly earlierChecksums?: readonly string[];
}

export function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

// Identifiers, numbers and string literals of a function's source.
const TOKEN = /[A-Za-z_$][\w$]*|\d[\w.]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g;
// Names build tools inject into compiled code (vite's SSR imports, esbuild's keepNames).
const INJECTED = /^(?:__vite_ssr_\w*__|__vi_import_\d+__|__name)$/;

// String literals (group 1, kept) or comments (dropped).
const LITERAL_OR_COMMENT =
  /("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`)|\/\/[^\n]*|\/\*[\s\S]*?\*\//g;

function tokensOf(source: string): string {
  return (source.match(TOKEN) ?? [])
    .filter((token) => !INJECTED.test(token))
    .map((token) => (/^["'`]/.test(token) ? `"${token.slice(1, -1)}"` : token))
    .join(" ");
}

/**
 * A checksum of what a function says, not how a build tool printed it:
 * whitespace, punctuation, quote style, comments (tsc keeps them, esbuild
 * drops them) and injected helper names differ between tsc, esbuild (tsx)
 * and vite for the same source, so only the identifiers and literals count.
 */
function functionChecksums(migration: Migration): { checksum: string; earlier: string } {
  const source = `${migration.up.toString()}\n${migration.down?.toString() ?? ""}`;
  const code = source.replace(LITERAL_OR_COMMENT, (_, literal?: string) => literal ?? " ");
  // Earlier versions counted comments too: accept what they recorded for the same source.
  return { checksum: digest(tokensOf(code)), earlier: digest(tokensOf(source)) };
}

/** Checks names (present, unique) and settles checksums. */
export function resolveMigrations(migrations: readonly Migration[]): ResolvedMigration[] {
  const seen = new Set<string>();
  return migrations.map((migration, index) => {
    if (!migration || typeof migration.name !== "string" || migration.name.length === 0) {
      throw new TenantbaseError("MIGRATION_INVALID", `Migration #${index + 1} has no name.`);
    }
    if (typeof migration.up !== "function") {
      throw new TenantbaseError("MIGRATION_INVALID", `Migration ${migration.name} has no up().`);
    }
    if (seen.has(migration.name)) {
      throw new TenantbaseError(
        "MIGRATION_INVALID",
        `Migration name ${migration.name} is used twice.`,
      );
    }
    seen.add(migration.name);
    if (migration.checksum !== undefined) return { ...migration, checksum: migration.checksum };
    const { checksum, earlier } = functionChecksums(migration);
    return {
      ...migration,
      checksum,
      ...(earlier !== checksum ? { earlierChecksums: [earlier] } : {}),
    };
  });
}

/** One identifier for the whole list: equal lists, equal ids. */
export function migrationsDigest(migrations: readonly ResolvedMigration[]): string {
  return digest(migrations.map((m) => `${m.name}\0${m.checksum}`).join("\n"));
}

function runScripts(scripts: readonly string[]) {
  return async (db: Kysely<any>) => {
    for (const script of scripts) await sql.raw(script).execute(db);
  };
}

/**
 * A migration made of SQL scripts (each one or more statements), e.g. from
 * files. `up`/`down` may be one script or a list run in order.
 */
export function sqlMigration(
  name: string,
  up: string | string[],
  down?: string | string[],
  checksum?: string,
): ResolvedMigration {
  const ups = typeof up === "string" ? [up] : up;
  const downs =
    down === undefined ? [] : (typeof down === "string" ? [down] : down).filter((s) => s.trim());
  const settled = checksum ?? digest(`${ups.join("\n")}\n-- down\n${downs.join("\n")}`);
  return {
    name,
    up: runScripts(ups),
    ...(downs.length > 0 ? { down: runScripts(downs) } : {}),
    checksum: settled,
    recipe: { module: import.meta.url, export: "sqlMigration", args: [name, ups, downs, settled] },
  };
}
