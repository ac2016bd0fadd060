/**
 * Compiles a bench module to one JavaScript file under
 * node_modules/.cache/tenantbase-bench/, for code that must run without tsx
 * (a child process whose memory is measured, a worker thread). Packages stay
 * external and resolve from node_modules as usual.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export async function compileForNode(entry: URL, name: string): Promise<string> {
  const dir = fileURLToPath(
    new URL("../../node_modules/.cache/tenantbase-bench/", import.meta.url),
  );
  mkdirSync(dir, { recursive: true });
  const outfile = `${dir}${name}.mjs`;
  await build({
    entryPoints: [fileURLToPath(entry)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}
