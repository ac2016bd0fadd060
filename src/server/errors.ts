/**
 * Every error answer is PocketBase's `{ status, message, data }`. Engine and
 * collection errors map to statuses by their stable codes; anything else is
 * a 500 whose details stay in the log.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { FieldErrors } from "../collections/errors.js";
import { isTenantbaseError, type TenantbaseError } from "../core/errors.js";

export interface ApiErrorBody {
  status: number;
  message: string;
  data: Record<string, unknown>;
}

/** An error raised by the HTTP layer itself, with PocketBase's shape. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequest = (message: string, data: Record<string, unknown> = {}) =>
  new ApiError(400, message, data);
export const unauthorized = (message = "Missing or invalid authentication.") =>
  new ApiError(401, message);
export const forbidden = (message = "You are not allowed to perform this request.") =>
  new ApiError(403, message);
export const notFound = (message = "The requested resource wasn't found.") =>
  new ApiError(404, message);

const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  VALIDATION_FAILED: 400,
  FILTER_INVALID: 400,
  CREATE_RULE_FAILED: 400,
  INVALID_TENANT_KEY: 400,
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TENANT_SUSPENDED: 403,
  COLLECTION_NOT_FOUND: 404,
  RECORD_NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  TENANT_EXISTS: 409,
  COLLECTION_EXISTS: 409,
  TENANT_MIGRATION_FAILED: 503,
  TENANT_SCHEMA_TOO_NEW: 503,
  TENANT_STORAGE_MISSING: 503,
  MIGRATION_DRIFT: 503,
  POOL_TIMEOUT: 503,
  HUB_CLOSED: 503,
};

/** "fields.0.max" → { fields: { 0: { max: error } } }, as PocketBase nests them. */
export function nestFieldErrors(errors: FieldErrors): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [path, error] of Object.entries(errors)) {
    const keys = path.split(".");
    let node = out;
    for (const key of keys.slice(0, -1)) {
      let next = node[key];
      if (!next || typeof next !== "object") {
        next = Object.create(null);
        node[key] = next;
      }
      node = next as Record<string, unknown>;
    }
    const { params: _params, ...shown } = error;
    node[keys[keys.length - 1]!] = shown;
  }
  return out;
}

/** The response for an error, and whether it is unexpected (to be logged as such). */
export function toErrorBody(error: unknown): { body: ApiErrorBody; unexpected: boolean } {
  if (error instanceof ApiError) {
    return {
      body: { status: error.status, message: error.message, data: error.data },
      unexpected: false,
    };
  }
  if (error instanceof HTTPException) {
    return {
      body: { status: error.status, message: error.message || "Request failed.", data: {} },
      unexpected: false,
    };
  }
  if (isTenantbaseError(error)) {
    const status = STATUS_BY_CODE[error.code];
    if (status !== undefined) {
      const fields = (error as TenantbaseError).details.fields as FieldErrors | undefined;
      return {
        body: { status, message: error.message, data: fields ? nestFieldErrors(fields) : {} },
        unexpected: false,
      };
    }
  }
  return {
    body: { status: 500, message: "Something went wrong while processing your request.", data: {} },
    unexpected: true,
  };
}
