/**
 * startServer: collections attached, secrets settled, the app listening
 * (@hono/node-server). close() stops accepting connections, lets in-flight
 * requests finish, then (if asked) closes the hub and so every tenant.
 */

import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import { pino } from "pino";
import { attachCollections } from "../collections/attach.js";
import type { Tenantbase } from "../core/hub.js";
import { closeRealtime } from "./apis/realtime.js";
import { type AppOptions, createApp } from "./app.js";
import type { AppEnv } from "./env.js";
import { resolveSecrets, type SecretSource } from "./secrets.js";

export interface ServerOptions
  extends Omit<AppOptions, "collections" | "records" | "adminToken" | "jwtSecret"> {
  hub: Tenantbase;
  /** Default 8090; 0 picks a free port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** Default: stored in the catalog, generated on first start. */
  adminToken?: string;
  /** Default: stored in the catalog, generated on first start. */
  jwtSecret?: string;
  /** Close the hub when the server closes. Default false. */
  closeHub?: boolean;
  /** How long close() waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownGraceMs?: number;
  /**
   * Collection definitions the app needs (the Collections API's body): each
   * is created at start when no collection of that name exists.
   */
  collections?: readonly unknown[];
}

export interface RunningServer {
  url: string;
  port: number;
  app: Hono<AppEnv>;
  /** The Node HTTP server underneath. */
  httpServer: Server;
  adminToken: string;
  adminTokenSource: SecretSource;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { hub } = options;
  const logger = options.logger ?? pino({ name: "tenantbase" });
  const { collections, records } = await attachCollections(hub);
  for (const definition of options.collections ?? []) {
    const name = (definition as { name?: unknown })?.name;
    if (typeof name !== "string" || !collections.get(name)) await collections.create(definition);
  }
  const secrets = await resolveSecrets(hub, options);
  const { app } = createApp({
    ...options,
    logger,
    collections,
    records,
    adminToken: secrets.adminToken,
    jwtSecret: secrets.jwtSecret,
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // Responses still to be written when close() starts end their connection, so the
  // server does not wait for clients to drop idle keep-alive connections.
  let stopping = false;
  const pending = new Set<ServerResponse>();
  server.on("request", (_request, response: ServerResponse) => {
    if (stopping) response.setHeader("connection", "close");
    pending.add(response);
    response.once("close", () => pending.delete(response));
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8090, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    app,
    httpServer: server,
    adminToken: secrets.adminToken,
    adminTokenSource: secrets.adminTokenSource,
    close() {
      closing ??= (async () => {
        stopping = true;
        // Realtime streams never finish on their own: end them (PB_DISCONNECT "shutdown").
        closeRealtime(app);
        for (const response of pending) {
          if (!response.headersSent) response.setHeader("connection", "close");
        }
        await new Promise<void>((resolve) => {
          // Idle keep-alive connections close now; busy ones after their response.
          server.close(() => resolve());
          server.closeIdleConnections();
          const grace = setTimeout(
            () => server.closeAllConnections(),
            options.shutdownGraceMs ?? 10_000,
          );
          grace.unref();
        });
        if (options.closeHub) await hub.close();
      })();
      return closing;
    },
  };
}
