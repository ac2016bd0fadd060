/** Shapes the server returns. */

export interface RecordModel {
  id: string;
  collectionId: string;
  collectionName: string;
  created: string;
  updated: string;
  [field: string]: unknown;
}

export interface ListResult<T = RecordModel> {
  page: number;
  perPage: number;
  /** -1 when asked to skip the total. */
  totalItems: number;
  totalPages: number;
  items: T[];
}

export interface AuthResponse<T = RecordModel> {
  token: string;
  record: T;
}

export interface DatabaseInfo {
  name: string;
  status: "active" | "suspended" | "failed";
  createdAt: string;
  sizeBytes: number;
  schemaVersion: number;
}

export interface FieldModel {
  id: string;
  name: string;
  type: string;
  system: boolean;
  required?: boolean;
  hidden?: boolean;
  [option: string]: unknown;
}

export interface CollectionModel {
  id: string;
  name: string;
  type: "base" | "auth";
  fields: FieldModel[];
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
  created: string;
  updated: string;
  [key: string]: unknown;
}

/** What creating a collection takes: `{ name, type, fields: [{ name, type, required, ...options }], rules }`. */
export interface CollectionInput {
  name?: string;
  type?: "base" | "auth";
  fields?: Array<{ name: string; type: string; required?: boolean; [option: string]: unknown }>;
  listRule?: string | null;
  viewRule?: string | null;
  createRule?: string | null;
  updateRule?: string | null;
  deleteRule?: string | null;
}

export interface ListOptions {
  filter?: string;
  sort?: string;
  /** Skip counting: totalItems and totalPages come back -1 (faster). */
  skipTotal?: boolean;
  fields?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface RecordOptions {
  fields?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}
