/**
 * The Hono app: middleware (logging, CORS, errors, body limit, auth) and
 * one module per resource under apis/.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { Logger } from "pino";
import { pino } from "pino";
import { Registry } from "prom-client";
import type { RecordStore } from "../collections/records.js";
import type { Collections } from "../collections/registry.js";
import type { Tenantbase } from "../core/hub.js";
import { registerActions } from "./apis/actions.js";
import { registerCollections } from "./apis/collections.js";
import { registerDatabases } from "./apis/databases.js";
import { registerDocs } from "./apis/docs.js";
import { registerHealth } from "./apis/health.js";
import { registerMetrics } from "./apis/metrics.js";
import { registerPublic } from "./apis/public.js";
import { type RealtimeOptions, realtimeStats, registerRealtime } from "./apis/realtime.js";
import { registerRecordAuth } from "./apis/record_auth.js";
import { registerRecordCrud } from "./apis/record_crud.js";
import { registerSignup, type SignupOptions } from "./apis/signup.js";
import { IdentityProvider, type IdentityProviderOptions } from "./auth/providers.js";
import { TokenSigner } from "./auth/tokens.js";
import type { ServerContext } from "./context.js";
import type { AppEnv } from "./env.js";
import { auth } from "./middleware/auth/index.js";
import { bodyLimit, DEFAULT_BODY_LIMIT } from "./middleware/body-limit/index.js";
import { errorHandler, notFoundHandler } from "./middleware/errors/index.js";
import { requestLogger } from "./middleware/logger/index.js";
import { requestMetrics } from "./middleware/metrics/index.js";

export const DEFAULT_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export interface AppOptions {
  hub: Tenantbase;
  collections: Collections;
  records: RecordStore;
  /** The superuser's token (compared in constant time). */
  adminToken: string;
  /** Signs and verifies tenant users' tokens (HS256). */
  jwtSecret: string;
  /** Lifetime of tenant users' tokens. Default 7 days. */
  tokenTtlSeconds?: number;
  /** Third-party JWT issuers whose tokens are accepted. */
  identityProviders?: IdentityProviderOptions[];
  /** Allowed browser origins: "*", a list, or false for no CORS headers. Default "*". */
  cors?: string | string[] | false;
  /** Largest accepted request body in bytes. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Self-service sign-up (`POST /api/signup`): a new tenant and its first user. Default off. */
  signup?: SignupOptions;
  /** A folder of static files (a built web app) served at `/`. */
  publicDir?: string;
  logger?: Logger;
  /** Realtime limits: per-client queue, idle timeout, keep-alive (see docs/server.md). */
  realtime?: RealtimeOptions;
}

export function createApp(options: AppOptions): { app: Hono<AppEnv>; context: ServerContext } {
  if (!options.adminToken) throw new TypeError("createApp: adminToken is required");
  if (!options.jwtSecret || options.jwtSecret.length < 16) {
    throw new TypeError("createApp: jwtSecret must be at least 16 characters");
  }
  const logger = options.logger ?? pino({ name: "tenantbase" });
  const context: ServerContext = {
    hub: options.hub,
    collections: options.collections,
    records: options.records,
    adminToken: options.adminToken,
    signer: new TokenSigner(
      options.jwtSecret,
      options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
    ),
    providers: (options.identityProviders ?? []).map((p) => new IdentityProvider(p)),
    logger,
  };
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(logger));
  app.notFound(notFoundHandler);
  app.use("*", requestLogger(logger));
  // One registry per app: two servers in one process keep their numbers apart.
  const metrics = new Registry();
  app.use("*", requestMetrics(metrics));
  if (options.cors !== false) {
    app.use(
      "*",
      cors({
        origin: options.cors ?? "*",
        allowHeaders: ["Authorization", "Content-Type", "x-dbname", "Accept-Language"],
        allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        maxAge: 600,
      }),
    );
  }
  app.use("*", bodyLimit(options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT));
  app.use("/api/*", auth(context));
  registerHealth(app);
  registerMetrics(app, context, metrics, () => realtimeStats(app));
  registerDocs(app);
  registerDatabases(app, context);
  registerCollections(app, context);
  registerRecordAuth(app, context);
  registerRecordCrud(app, context);
  registerRealtime(app, context, options.realtime);
  registerActions(app, context);
  if (options.signup) registerSignup(app, context, options.signup);
  if (options.publicDir) registerPublic(app, options.publicDir);
  return { app, context };
}
