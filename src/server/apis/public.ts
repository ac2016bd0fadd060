/**
 * A folder of static files served at `/` (PocketBase's pb_public): a web app
 * built next to the tenant definition. Paths under /api/ are never files;
 * other GETs that match no file get index.html, so a single-page app's own
 * routes load.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import type { Hono } from "hono";
import type { AppEnv } from "../env.js";

export function registerPublic(app: Hono<AppEnv>, dir: string): void {
  const absolute = resolve(dir);
  if (!existsSync(join(absolute, "index.html"))) {
    // The API works without the web app; say at / how to get it.
    app.get("/", (c) =>
      c.text(`The web app is not built: ${absolute} has no index.html (npm run build:web).`, 503),
    );
    return;
  }
  const files = serveStatic<AppEnv>({ root: absolute });
  const index = serveStatic<AppEnv>({ root: absolute, path: "index.html" });
  app.use("*", async (c, next) => {
    if (c.req.path === "/api" || c.req.path.startsWith("/api/")) return next();
    return files(c, async () => {
      // No such file: the app's index.html (an app route), or on to the API's 404.
      const response = await index(c, next);
      if (response) c.res = response;
    });
  });
}
