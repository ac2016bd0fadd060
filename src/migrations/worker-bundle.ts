/**
 * One ES module for fleet worker threads. A worker that imports our modules
 * one by one (kysely alone is hundreds of files, and TypeScript sources go
 * through tsx's loader in every thread) took 0.6 s or more to start, per
 * thread; from one file it starts in a fraction of that. esbuild (the one
 * tsx runs on) builds it once per set of modules and process.
 *
 * - Kysely goes inside, so the tenant definition's migrations and Tenantbase
 *   share one copy of it. Other packages stay outside, imported by the URL
 *   esbuild resolves for them, so the module can be handed to the worker as
 *   a `data:` URL.
 * - `import.meta.url`, `.dirname` and `.filename` keep meaning the file they
 *   are written in (a definition may find its files next to it).
 */
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";
import { dirname, extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Loader, Plugin } from "esbuild";

/** Packages bundled in: pure ES modules that are slow to load file by file. */
const INLINED = new Set(["kysely"]);
const BUILTINS = new Set(builtinModules);
const LOADERS: Record<string, Loader> = {
  ".ts": "ts",
  ".mts": "ts",
  ".cts": "ts",
  ".tsx": "tsx",
  ".js": "js",
  ".mjs": "js",
  ".cjs": "js",
  ".jsx": "jsx",
};

const built = new Map<string, Promise<URL | undefined>>();

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/**
 * The worker's module, with `modules` (file URLs: the driver's, the
 * migration recipes') and the tenant definition's module inside it.
 * Undefined when it cannot be built (no esbuild, or code esbuild cannot
 * read): workers then import their modules one by one.
 */
export function fleetWorkerBundle(
  modules: readonly string[],
  definition?: string,
): Promise<URL | undefined> {
  const key = JSON.stringify([[...new Set(modules)].sort(), definition ?? null]);
  let bundle = built.get(key);
  if (!bundle) {
    const [list] = JSON.parse(key) as [string[]];
    bundle = build(list, definition).catch(() => undefined);
    built.set(key, bundle);
  }
  return bundle;
}

/** Packages outside the bundle, imported by the URL esbuild resolves from the importer. */
const packagesByUrl: Plugin = {
  name: "packages-by-url",
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === packagesByUrl) return undefined; // our own resolve() below
      if (args.path.startsWith("node:") || BUILTINS.has(args.path)) {
        return { path: args.path, external: true };
      }
      if (INLINED.has(packageName(args.path))) return undefined;
      const resolved = await builder.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: packagesByUrl,
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: pathToFileURL(resolved.path).href, external: true };
    });
  },
};

/** Spelled in two parts so that this file's own text is not replaced below. */
const META = ["import", "meta"].join(".");

/** `import.meta.url` and co. of our and the user's files, as their own paths. */
const importMetaOfFile: Plugin = {
  name: "import-meta-of-file",
  setup(builder) {
    builder.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
      if (args.path.includes("/node_modules/")) return undefined;
      const text = await readFile(args.path, "utf8");
      if (!text.includes(`${META}.`)) return undefined;
      // A textual replacement, as other bundlers' plugins do: outside a
      // comment or a string these names mean only this.
      const contents = text
        .replaceAll(`${META}.url`, JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll(`${META}.dirname`, JSON.stringify(dirname(args.path)))
        .replaceAll(`${META}.filename`, JSON.stringify(args.path));
      return { contents, loader: LOADERS[extname(args.path)] ?? "js" };
    });
  },
};

async function build(modules: string[], definition: string | undefined): Promise<URL | undefined> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    return undefined;
  }
  const self = new URL(import.meta.url);
  const worker = fileURLToPath(
    new URL(self.pathname.endsWith(".ts") ? "./fleet-worker.ts" : "./fleet-worker.js", self),
  );
  const entry = [
    `import { serveFleetTasks } from ${JSON.stringify(worker)};`,
    ...modules.map((url, i) => `import * as m${i} from ${JSON.stringify(fileURLToPath(url))};`),
    definition ? `import * as definition from ${JSON.stringify(fileURLToPath(definition))};` : "",
    `const modules = new Map([${modules.map((url, i) => `[${JSON.stringify(url)}, m${i}]`).join(", ")}]);`,
    `await serveFleetTasks(async (url) => modules.get(url) ?? import(url)${definition ? ", definition" : ""});`,
  ].join("\n");
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: dirname(worker), sourcefile: "fleet-worker-bundle.js" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
    plugins: [packagesByUrl, importMetaOfFile],
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) return undefined;
  return new URL(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}
