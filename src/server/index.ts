/**
 * The Tenantbase server: PocketBase's records API with one database per
 * tenant.
 *
 *   import { createTenantbase } from "tenantbase";
 *   import { startServer } from "tenantbase/server";
 *   const server = await startServer({ hub: createTenantbase(), port: 8090 });
 */
export {
  type AttachedCollections,
  attachCollections,
  type Caller,
  Collection,
  Collections,
  type RecordEvent,
  RecordStore,
} from "../collections/index.js";
export {
  closeRealtime,
  type DisconnectReason,
  type RealtimeOptions,
  type RealtimeStats,
  realtimeStats,
} from "./apis/realtime.js";
export { type AppOptions, createApp, DEFAULT_TOKEN_TTL_SECONDS } from "./app.js";
export type { Principal } from "./auth/principal.js";
export type { IdentityProviderOptions } from "./auth/providers.js";
export type { ServerContext } from "./context.js";
export type { AppEnv, TenantContext } from "./env.js";
export { ApiError, type ApiErrorBody } from "./errors.js";
export { DEFAULT_BODY_LIMIT } from "./middleware/body-limit/index.js";
export { TENANT_HEADER } from "./middleware/tenant/index.js";
export { resolveSecrets, type ServerSecrets } from "./secrets.js";
export { type RunningServer, type ServerOptions, startServer } from "./start.js";
