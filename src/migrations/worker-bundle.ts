/**
 * One ES module for fleet worker threads. A worker that imports our modules
 * one by one (kysely alone is hundreds of files, and TypeScript sources go
 * through tsx's loader in every thread) took 0.6 s or more to start, per
 * thread; from one file it starts in a fraction of that. esbuild (the one
 * tsx runs on) builds it once per set of modules and process. Kysely goes
 * inside; other packages stay outside, imported by their resolved URL, so
 * the module can be handed to the worker as a `data:` URL.
 */
import { builtinModules, createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Packages bundled in: pure ES modules that are slow to load file by file. */
const INLINED = new Set(["kysely"]);
const BUILTINS = new Set(builtinModules);

const built = new Map<string, Promise<URL | undefined>>();

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** A package's URL as `importer` would import it. */
function resolvePackage(specifier: string, importer: string): string {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return pathToFileURL(createRequire(importer).resolve(specifier)).href;
  }
}

/**
 * The worker's module, with `modules` (file URLs: the driver's, the
 * migration recipes') inside it. Undefined when it cannot be built (no
 * esbuild, or a module esbuild cannot read): workers then import one by one.
 */
export function fleetWorkerBundle(modules: readonly string[]): Promise<URL | undefined> {
  const key = JSON.stringify([...new Set(modules)].sort());
  let bundle = built.get(key);
  if (!bundle) {
    bundle = build(JSON.parse(key) as string[]).catch(() => undefined);
    built.set(key, bundle);
  }
  return bundle;
}

async function build(modules: string[]): Promise<URL | undefined> {
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
    `const modules = new Map([${modules.map((url, i) => `[${JSON.stringify(url)}, m${i}]`).join(", ")}]);`,
    "await serveFleetTasks(async (url) => modules.get(url) ?? import(url));",
  ].join("\n");
  const result = await esbuild.build({
    stdin: { contents: entry, resolveDir: dirname(worker), sourcefile: "fleet-worker-bundle.js" },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
    plugins: [
      {
        name: "packages-by-url",
        setup(builder) {
          builder.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith("node:") || BUILTINS.has(args.path)) {
              return { path: args.path, external: true };
            }
            if (INLINED.has(packageName(args.path))) return undefined;
            const importer = args.importer.startsWith("/")
              ? args.importer
              : join(args.resolveDir, "index.js");
            return { path: resolvePackage(args.path, importer), external: true };
          });
        },
      },
    ],
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) return undefined;
  return new URL(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
}
