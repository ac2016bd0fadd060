/**
 * What every command shares: where the data is, which app definition to
 * load, opening a hub over them, and printing results for people or --json.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Command } from "commander";
import { attachCollections } from "../collections/attach.js";
import { createTenantbase, type Tenantbase, type TenantbaseOptions } from "../core/hub.js";
import type { StorageDriver } from "../drivers/driver.js";
import { sqlite } from "../drivers/sqlite/index.js";

export interface GlobalOptions {
  data?: string;
  databaseUrl?: string;
  app?: string;
  json?: boolean;
}

/** Adds the options that pick the storage and the app definition. */
export function withStorageOptions(command: Command): Command {
  return command
    .option(
      "--data <dir>",
      "SQLite data directory (env TENANTBASE_DATA)",
      process.env.TENANTBASE_DATA ?? "./data",
    )
    .option(
      "--database-url <url>",
      "postgres://… selects the PostgreSQL driver (env TENANTBASE_DATABASE_URL)",
      process.env.TENANTBASE_DATABASE_URL,
    )
    .option("--app <file>", "tenant definition module (.ts or .js): migrations, actions, events")
    .option("--json", "machine-readable output");
}

/** The driver the options select: PostgreSQL for a postgres:// URL, SQLite otherwise. */
export async function driverFromOptions(options: GlobalOptions): Promise<StorageDriver> {
  const url = options.databaseUrl;
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url))
      throw new Error("--database-url must be a postgres:// URL");
    // Loaded only when asked for, so SQLite users never load pg.
    const modulePath = "../drivers/postgres/index.js";
    const { postgres } = (await import(modulePath)) as {
      postgres(options: { url: string }): StorageDriver;
    };
    return postgres({ url });
  }
  return sqlite({ dir: options.data ?? "./data" });
}

/** Loads a tenant definition module (TypeScript through tsx, or JavaScript). */
export async function loadApp(file: string): Promise<Partial<TenantbaseOptions>> {
  const url = pathToFileURL(resolve(file)).href;
  const { tsImport } = await import("tsx/esm/api");
  const mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  // A .ts file outside an ESM package loads as CommonJS: its default export is one level down.
  let definition = (mod.default ?? mod.definition ?? mod) as Record<string, unknown>;
  if (
    definition &&
    typeof definition === "object" &&
    "default" in definition &&
    !("migrations" in definition)
  ) {
    definition = definition.default as Record<string, unknown>;
  }
  if (!definition || typeof definition !== "object") {
    throw new Error(`${file} must export a tenant definition (export default defineTenant({...}))`);
  }
  return definition as Partial<TenantbaseOptions>;
}

export async function openHub(
  options: GlobalOptions,
  extra: Partial<TenantbaseOptions> = {},
): Promise<Tenantbase> {
  const app = options.app ? await loadApp(options.app) : {};
  // Fleet rollouts load the same module in worker threads to run its migrations on every core.
  const workerModule = options.app ? pathToFileURL(resolve(options.app)).href : undefined;
  const hub = createTenantbase({
    ...(workerModule ? { workerModule } : {}),
    ...app,
    ...extra,
    driver: await driverFromOptions(options),
  });
  await hub.ready();
  // Collection definitions are a tenant migration track: every command sees them.
  await attachCollections(hub);
  return hub;
}

/** Prints `value` as JSON with --json, or `text()` for people. */
export function output(options: GlobalOptions, value: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
