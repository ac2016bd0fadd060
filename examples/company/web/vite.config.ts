import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into ./dist, which `tenantbase serve --app examples/company/definition.ts` serves at /.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  logLevel: "warn",
});
