#!/usr/bin/env node
// The `tenantbase` command. In a source checkout it runs the TypeScript
// sources through tsx (always current); an installed package runs dist/.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(source.href);
} else {
  await import(new URL("../dist/src/cli/main.js", import.meta.url).href);
}
