/**
 * The base of every error Tenantbase throws on purpose: a stable `code` to
 * switch on (the server maps codes to HTTP statuses), a message for people,
 * and details safe to show to a caller (never secrets).
 */
export class TenantbaseError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

export function isTenantbaseError(error: unknown): error is TenantbaseError {
  return error instanceof TenantbaseError;
}
