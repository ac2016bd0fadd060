/**
 * tenantbase/client: the browser-safe SDK.
 *
 *   import { TenantbaseClient } from "tenantbase/client";
 */
export type {
  ActionArgs,
  ActionInputOf,
  ActionName,
  ActionOptions,
  ActionResultOf,
  AnyTenantDefinition,
} from "./actions.js";
export {
  type ClientOptions,
  encodeTenantHeader,
  type SendOptions,
  TenantbaseClient,
  TenantDatabase,
} from "./client.js";
export {
  ClientError,
  ConflictError,
  type FieldProblem,
  ForbiddenError,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  ServerError,
  UnauthorizedError,
  ValidationError,
} from "./errors.js";
export {
  type DisconnectInfo,
  RealtimeConnection,
  type RealtimeOptions,
  type RecordSubscription,
  type SubscribeOptions,
  type UnsubscribeFunc,
} from "./realtime.js";
export { RecordService } from "./records.js";
export { CollectionsService, DatabasesService } from "./settings.js";
export type {
  AuthResponse,
  CollectionInput,
  CollectionModel,
  DatabaseInfo,
  FieldModel,
  ListOptions,
  ListResult,
  RecordModel,
  RecordOptions,
} from "./types.js";
