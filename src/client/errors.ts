/**
 * Typed errors of the SDK. Every failed request throws a `ClientError`
 * (or a subclass by HTTP status) carrying the server's PocketBase-shaped
 * body: `status`, `message`, `data` (validation problems per field).
 */

export interface FieldProblem {
  code: string;
  message: string;
}

export class ClientError extends Error {
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** The server's `data`: for validation errors, `{ field: { code, message } }`. */
  readonly data: Record<string, unknown>;
  readonly url: string;
  /** Whether the request was aborted (its signal fired). */
  readonly isAbort: boolean;

  constructor(
    status: number,
    message: string,
    data: Record<string, unknown> = {},
    url = "",
    options: { cause?: unknown; isAbort?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.data = data;
    this.url = url;
    this.isAbort = options.isAbort ?? false;
  }

  /** The problem reported for one field (validation errors), if any. */
  fieldError(name: string): FieldProblem | undefined {
    const value = this.data[name];
    if (value && typeof value === "object" && "code" in value && "message" in value) {
      return value as FieldProblem;
    }
    return undefined;
  }
}

/** 400: invalid input; `data` names the fields. */
export class ValidationError extends ClientError {}
/** 401: missing, invalid or expired credential. */
export class UnauthorizedError extends ClientError {}
/** 403: not allowed (a rule, or a token of another tenant). */
export class ForbiddenError extends ClientError {}
/** 404: no such database, collection or record (or a rule hides it). */
export class NotFoundError extends ClientError {}
/** 409: already exists. */
export class ConflictError extends ClientError {}
/** 413: body too large. */
export class PayloadTooLargeError extends ClientError {}
/** 5xx: the server or the tenant is unavailable. */
export class ServerError extends ClientError {}
/** No answer: network failure or abort. */
export class NetworkError extends ClientError {}

const BY_STATUS: Record<number, typeof ClientError> = {
  400: ValidationError,
  401: UnauthorizedError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
};

export function errorFor(
  status: number,
  message: string,
  data: Record<string, unknown>,
  url: string,
): ClientError {
  const Type = BY_STATUS[status] ?? (status >= 500 ? ServerError : ClientError);
  return new Type(status, message, data, url);
}
