/**
 * Errors of the collections layer. Each carries a stable code; the server
 * maps codes to HTTP statuses and `ValidationFailed.fields` to PocketBase's
 * `data.<field>.code/message`.
 */
import { TenantbaseError } from "../tools/error.js";

/** One problem with one submitted value, as PocketBase reports it. */
export interface FieldError {
  code: string;
  message: string;
  params?: Record<string, unknown>;
}

export type FieldErrors = Record<string, FieldError>;

export class ValidationFailed extends TenantbaseError {
  constructor(
    message: string,
    readonly fields: FieldErrors,
  ) {
    super("VALIDATION_FAILED", message, { fields });
  }
}

export class CollectionNotFound extends TenantbaseError {
  constructor(readonly collection: string) {
    super("COLLECTION_NOT_FOUND", `Collection ${JSON.stringify(collection)} was not found.`, {
      collection,
    });
  }
}

export class CollectionExists extends TenantbaseError {
  constructor(readonly collection: string) {
    super("COLLECTION_EXISTS", `Collection ${JSON.stringify(collection)} already exists.`, {
      collection,
    });
  }
}

export class RecordNotFound extends TenantbaseError {
  constructor() {
    super("RECORD_NOT_FOUND", "The requested resource wasn't found.");
  }
}

/** The caller is known but the collection's rule does not let it act (HTTP 403). */
export class RuleForbidden extends TenantbaseError {
  constructor(message = "Only superusers can perform this action.") {
    super("FORBIDDEN", message);
  }
}

/** The action needs an authenticated caller and there is none (HTTP 401). */
export class AuthRequired extends TenantbaseError {
  constructor(message = "The request requires an authenticated user of this tenant.") {
    super("UNAUTHORIZED", message);
  }
}

/** A create rule rejected the new record (PocketBase answers 400). */
export class CreateRuleFailed extends TenantbaseError {
  constructor() {
    super("CREATE_RULE_FAILED", "Failed to create record.");
  }
}

export function fieldError(code: string, message: string, params?: Record<string, unknown>) {
  return params ? { code, message, params } : { code, message };
}
