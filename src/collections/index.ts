/**
 * PocketBase-style collections: definitions (global, append-only, applied to
 * every tenant as migrations), the record store, and rules.
 */
export { type AttachedCollections, attachCollections } from "./attach.js";
export { Collection } from "./collection.js";
export {
  type CollectionsCopy,
  copyCollectionDefinitions,
  copyDeployment,
  type DeploymentCopyOptions,
  type DeploymentCopyReport,
} from "./copy.js";
export type { CollectionDefinition, FieldDefinition, SchemaChange } from "./definition.js";
export {
  AuthRequired,
  CollectionExists,
  CollectionNotFound,
  CreateRuleFailed,
  type FieldError,
  type FieldErrors,
  RecordNotFound,
  RuleForbidden,
  ValidationFailed,
} from "./errors.js";
export { FilterError } from "./filter/index.js";
export { formatDate, isRecordId, newRecordId } from "./ids.js";
export { COLLECTION_MIGRATIONS_TABLE } from "./migrations.js";
export { type ApiRecord, type FieldsSelector, parseFieldsParam } from "./output.js";
export { hashPassword, verifyPassword } from "./passwords.js";
export { type ListQuery, type ListResult, type RecordEvent, RecordStore } from "./records.js";
export { Collections } from "./registry.js";
export { ANONYMOUS, type Caller, SUPERUSER } from "./rules.js";
export {
  type CollectionCreateInput,
  type CollectionUpdateInput,
  collectionCreateSchema,
  collectionUpdateSchema,
  FIELD_TYPES,
  fieldInputSchema,
  MAX_RULE_LENGTH,
} from "./schema.js";
