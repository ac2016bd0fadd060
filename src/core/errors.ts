/**
 * The engine's errors, each with a stable code: INVALID_TENANT_KEY,
 * TENANT_NOT_FOUND, TENANT_EXISTS, TENANT_SUSPENDED, TENANT_MIGRATION_FAILED,
 * TENANT_SCHEMA_TOO_NEW, TENANT_STORAGE_MISSING, NESTED_TENANT_ACCESS,
 * POOL_TIMEOUT, HUB_CLOSED, INVALID_ARGUMENT, RESTORE_INVALID. Migrations add
 * MIGRATION_INVALID and MIGRATION_DRIFT (src/migrations/). Actions add
 * ACTION_NOT_FOUND, ACTION_INPUT_INVALID, ACTION_AUTH_REQUIRED,
 * ACTION_FORBIDDEN, ACTION_EVENT_INVALID and ACTION_REJECTED.
 */

import { TenantbaseError } from "../tools/error.js";

export { isTenantbaseError, TenantbaseError } from "../tools/error.js";

export class InvalidTenantKey extends TenantbaseError {
  constructor(reason: string) {
    super("INVALID_TENANT_KEY", `Invalid tenant key: ${reason}.`, { reason });
  }
}

export class TenantNotFound extends TenantbaseError {
  constructor(readonly key: string) {
    super("TENANT_NOT_FOUND", `Tenant ${JSON.stringify(key)} does not exist.`, { key });
  }
}

export class TenantExists extends TenantbaseError {
  constructor(readonly key: string) {
    super("TENANT_EXISTS", `Tenant ${JSON.stringify(key)} already exists.`, { key });
  }
}

export class TenantSuspended extends TenantbaseError {
  constructor(readonly key: string) {
    super("TENANT_SUSPENDED", `Tenant ${JSON.stringify(key)} is suspended.`, { key });
  }
}

export class TenantMigrationFailed extends TenantbaseError {
  constructor(
    readonly key: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(
      "TENANT_MIGRATION_FAILED",
      `Tenant ${JSON.stringify(key)} failed to migrate and is unavailable until an operator retries: ${reason}`,
      { key, reason },
      options,
    );
  }
}

export class TenantSchemaTooNew extends TenantbaseError {
  constructor(
    readonly key: string,
    readonly applied: string,
  ) {
    super(
      "TENANT_SCHEMA_TOO_NEW",
      `Tenant ${JSON.stringify(key)} has migration ${JSON.stringify(applied)} applied, which this code does not know; it will not be opened by older code.`,
      { key, applied },
    );
  }
}

export class TenantStorageMissing extends TenantbaseError {
  constructor(readonly key: string) {
    super(
      "TENANT_STORAGE_MISSING",
      `The database of tenant ${JSON.stringify(key)} is missing from storage.`,
      { key },
    );
  }
}

export class NestedTenantAccess extends TenantbaseError {
  constructor(readonly key: string) {
    super(
      "NESTED_TENANT_ACCESS",
      `Tenant ${JSON.stringify(key)} was used through handle.db inside its own transaction; use the transaction object passed to transaction(fn) instead (handle.db would wait for the transaction forever).`,
      { key },
    );
  }
}

export class PoolTimeout extends TenantbaseError {
  constructor(
    readonly key: string,
    timeoutMs: number,
  ) {
    super(
      "POOL_TIMEOUT",
      `Timed out after ${timeoutMs} ms waiting to open tenant ${JSON.stringify(key)}: every open tenant is in use (raise pool.maxOpen).`,
      { key, timeoutMs },
    );
  }
}

export class HubClosed extends TenantbaseError {
  constructor() {
    super("HUB_CLOSED", "The Tenantbase hub is closed.");
  }
}

export class InvalidArgument extends TenantbaseError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("INVALID_ARGUMENT", message, details);
  }
}

/** No action of that name in the tenant definition. */
export class ActionNotFound extends TenantbaseError {
  constructor(readonly action: string) {
    super("ACTION_NOT_FOUND", `There is no action ${JSON.stringify(action)}.`, { action });
  }
}

/** The input failed the action's schema; `fields` says where (dotted paths, "input" for the whole). */
export class ActionInputInvalid extends TenantbaseError {
  constructor(
    readonly action: string,
    readonly fields: Record<string, { code: string; message: string }>,
  ) {
    super("ACTION_INPUT_INVALID", `Invalid input for action ${JSON.stringify(action)}.`, {
      action,
      fields,
    });
  }
}

/** The action needs an authenticated caller and there is none. */
export class ActionAuthRequired extends TenantbaseError {
  constructor(readonly action: string) {
    super(
      "ACTION_AUTH_REQUIRED",
      `Action ${JSON.stringify(action)} requires an authenticated user of this tenant.`,
      { action },
    );
  }
}

/** The caller's role is not one of the action's roles. */
export class ActionForbidden extends TenantbaseError {
  constructor(
    readonly action: string,
    readonly role: string | null,
    readonly roles: readonly string[],
  ) {
    super(
      "ACTION_FORBIDDEN",
      `Action ${JSON.stringify(action)} is allowed only for the roles ${roles.map((r) => JSON.stringify(r)).join(", ")}; your role is ${role === null ? "none" : JSON.stringify(role)}.`,
      { action, role, roles: [...roles] },
    );
  }
}

/** An action broadcast an event its definition does not declare, or a payload failing its schema. */
export class ActionEventInvalid extends TenantbaseError {
  constructor(
    readonly action: string,
    readonly event: string,
    reason: string,
  ) {
    super(
      "ACTION_EVENT_INVALID",
      `Action ${JSON.stringify(action)} broadcast event ${JSON.stringify(event)}: ${reason}`,
      { action, event, reason },
    );
  }
}

export type ActionRejectedStatus = 400 | 403 | 404 | 409 | 422 | 429;

/**
 * Thrown by an action's `run` to refuse the request with a message for the
 * caller (a limit reached, a state that does not allow it). The transaction
 * rolls back; over HTTP it is `status` (default 400) with `fields` as `data`.
 */
export class ActionRejected extends TenantbaseError {
  readonly status: ActionRejectedStatus;
  readonly fields: Record<string, { code: string; message: string }>;

  constructor(
    message: string,
    options: {
      status?: ActionRejectedStatus;
      fields?: Record<string, { code: string; message: string }>;
    } = {},
  ) {
    const status = options.status ?? 400;
    const fields = options.fields ?? {};
    super("ACTION_REJECTED", message, { status, fields });
    this.status = status;
    this.fields = fields;
  }
}
