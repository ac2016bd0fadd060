/** What the filter compiler knows about a collection and the request. */

export type FilterFieldType =
  | "text"
  | "number"
  | "bool"
  | "email"
  | "url"
  | "date"
  | "autodate"
  | "select"
  | "json"
  | "relation"
  | "password"
  | "editor"
  | "file";

export interface FilterField {
  /** As written in filters, e.g. "title", "created", "author". */
  name: string;
  /** SQL column in the collection's table; always quoted, never trusted. */
  column: string;
  type: FilterFieldType;
  /** select/relation/file with maxSelect > 1: a JSON array stored in a TEXT (or JSONB) column. */
  multiple?: boolean;
  /** e.g. password, tokenKey: filtering or sorting on it is an error unless `allowHidden`. */
  hidden?: boolean;
  /**
   * A boolean column that must be true for a comparison on this field to
   * match, unless `allowHidden` (PocketBase's rule for `email` on auth
   * collections: `{ name: "email", ..., visibleWhen: "emailVisibility" }`).
   */
  visibleWhen?: string;
}

export interface FilterRequestInfo {
  /** The authenticated record; null or absent = anonymous (every @request.auth.* is null). */
  auth?: Record<string, unknown> | null;
  body?: Record<string, unknown>;
  query?: Record<string, unknown>;
  /** Names are matched like PocketBase: lower case, "-" written as "_" (`@request.headers.x_token`). */
  headers?: Record<string, string>;
  method?: string;
  context?: string;
}

export interface FilterContext {
  dialect: "sqlite" | "postgres";
  /** By name as written in filters; include id, created, updated (and the auth fields). */
  fields: ReadonlyMap<string, FilterField>;
  /** Absent: every @request.* resolves to null. */
  request?: FilterRequestInfo;
  /** For @now, @todayStart, ... (default: new Date()). */
  now?: Date;
  /** Superusers: hidden fields may be filtered and sorted; `visibleWhen` is ignored. */
  allowHidden?: boolean;
  /** Qualify every column with this table name or alias (quoted), e.g. inside joins. */
  table?: string;
}

export interface FilterLimits {
  /** Longest accepted input, in characters (default 3500, as PocketBase). */
  maxLength?: number;
  /** Deepest parenthesis nesting (default 32). */
  maxDepth?: number;
  /** Most comparisons (default 200, as PocketBase). */
  maxTerms?: number;
}

export const DEFAULT_LIMITS: Required<FilterLimits> = {
  maxLength: 3500,
  maxDepth: 32,
  maxTerms: 200,
};
