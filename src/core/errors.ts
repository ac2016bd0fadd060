/**
 * The engine's errors, each with a stable code: INVALID_TENANT_KEY,
 * TENANT_NOT_FOUND, TENANT_EXISTS, TENANT_SUSPENDED, TENANT_MIGRATION_FAILED,
 * TENANT_SCHEMA_TOO_NEW, TENANT_STORAGE_MISSING, NESTED_TENANT_ACCESS,
 * POOL_TIMEOUT, HUB_CLOSED, INVALID_ARGUMENT, RESTORE_INVALID. Migrations add
 * MIGRATION_INVALID and MIGRATION_DRIFT (src/migrations/).
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
