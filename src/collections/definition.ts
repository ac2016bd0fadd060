/**
 * Collection definitions as stored: normalized fields with every default
 * settled, and the rules that govern how a definition may change. Changes are
 * append-only: new collections, new fields, options that only loosen (a
 * value valid before stays valid), soft deletes. Each change that touches
 * tenant schemas is described by a `SchemaChange`, which migrations.ts turns
 * into a tenant migration.
 */
import { type FieldErrors, fieldError, ValidationFailed } from "./errors.js";
import { newFieldId, parseDate } from "./ids.js";
import {
  type CollectionCreateInput,
  type CollectionType,
  type CollectionUpdateInput,
  type FieldInput,
  type FieldType,
  RULE_NAMES,
  type Rules,
} from "./schema.js";

export interface FieldDefinition {
  id: string;
  name: string;
  type: FieldType;
  required: boolean;
  hidden: boolean;
  unique: boolean;
  /** text/editor/password: length bounds; number: value bounds; date: date bounds. */
  min?: number | string | null;
  max?: number | string | null;
  pattern?: string;
  onlyInt?: boolean;
  values?: string[];
  minSelect?: number;
  maxSelect?: number;
  /** relation: the target collection's id. */
  collectionId?: string;
  maxSize?: number;
  onCreate?: boolean;
  onUpdate?: boolean;
  onlyDomains?: string[];
  exceptDomains?: string[];
}

export interface CollectionDefinition {
  id: string;
  name: string;
  type: CollectionType;
  /** User-defined fields; system fields (id, created, updated, auth fields) are implied by the type. */
  fields: FieldDefinition[];
  rules: Rules;
  created: string;
  updated: string;
}

export type SchemaChange =
  | {
      kind: "create";
      collection: { id: string; name: string; type: CollectionType };
      fields: FieldDefinition[];
    }
  | { kind: "add_field"; collection: { id: string; name: string }; field: FieldDefinition }
  | {
      kind: "alter_field";
      collection: { id: string; name: string };
      before: FieldDefinition;
      after: FieldDefinition;
    }
  | { kind: "delete"; collection: { id: string; name: string }; archivedAs: string };

/** Text fields without a max keep to PocketBase's default. */
export const DEFAULT_TEXT_MAX = 5000;
export const DEFAULT_JSON_MAX_SIZE = 1024 * 1024;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** Names every collection reserves (PocketBase's system keys of a record). */
const ALWAYS_RESERVED = ["id", "created", "updated", "collectionid", "collectionname", "expand"];
/** Auth collections' system fields and the request-only keys they take. */
export const AUTH_SYSTEM_FIELDS = ["email", "emailVisibility", "verified", "password", "tokenKey"];
const AUTH_RESERVED = [
  ...AUTH_SYSTEM_FIELDS.map((n) => n.toLowerCase()),
  "passwordconfirm",
  "oldpassword",
];
/** System fields (by lower-cased name) a client may send back in a definition; ignored, they cannot change. */
const BASE_SYSTEM_TYPES: Record<string, FieldType> = {
  id: "text",
  created: "autodate",
  updated: "autodate",
};
const AUTH_SYSTEM_TYPES: Record<string, FieldType> = {
  ...BASE_SYSTEM_TYPES,
  email: "email",
  emailvisibility: "bool",
  verified: "bool",
  password: "password",
  tokenkey: "text",
};

const UNIQUE_TYPES: ReadonlySet<FieldType> = new Set([
  "text",
  "email",
  "url",
  "date",
  "select",
  "relation",
]);

export function isMultiple(field: FieldDefinition): boolean {
  return (field.type === "select" || field.type === "relation") && (field.maxSelect ?? 1) > 1;
}

/** How a collection finds a relation's target: by id or by name, live collections only. */
export type RelationResolver = (idOrName: string) => { id: string } | undefined;

/** A system field sent back as the API shows it (same name and type). */
function isSystemField(type: CollectionType, input: FieldInput): boolean {
  const types = type === "auth" ? AUTH_SYSTEM_TYPES : BASE_SYSTEM_TYPES;
  return types[input.name.toLowerCase()] === input.type;
}

function isReserved(type: CollectionType, name: string): boolean {
  const lower = name.toLowerCase();
  return ALWAYS_RESERVED.includes(lower) || (type === "auth" && AUTH_RESERVED.includes(lower));
}

function validRegex(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** Settles one submitted field; problems go to `errors` under the field's index. */
function normalizeField(
  input: FieldInput,
  index: number,
  errors: FieldErrors,
  resolve: RelationResolver,
  keepId: string | undefined,
): FieldDefinition | undefined {
  const problem = (key: string, message: string, code = "validation_invalid_value") => {
    errors[`fields.${index}.${key}`] = fieldError(code, message);
  };
  const field: FieldDefinition = {
    id: keepId ?? newFieldId(input.type),
    name: input.name,
    type: input.type,
    required: input.required ?? false,
    hidden: input.hidden ?? false,
    unique: "unique" in input ? (input.unique ?? false) : false,
  };
  switch (input.type) {
    case "text":
    case "password": {
      if (input.min != null) field.min = input.min;
      if (input.max != null) field.max = input.max;
      if (input.pattern) {
        if (!validRegex(input.pattern)) problem("pattern", "Must be a valid regular expression.");
        field.pattern = input.pattern;
      }
      if (field.min != null && field.max != null && (field.min as number) > (field.max as number))
        problem("max", "Must be at least min.");
      break;
    }
    case "editor":
      if (input.max != null) field.max = input.max;
      break;
    case "number":
      if (input.min != null) field.min = input.min;
      if (input.max != null) field.max = input.max;
      field.onlyInt = input.onlyInt ?? false;
      if (field.min != null && field.max != null && (field.min as number) > (field.max as number))
        problem("max", "Must be at least min.");
      break;
    case "email":
    case "url":
      if (input.onlyDomains?.length) field.onlyDomains = [...new Set(input.onlyDomains)];
      if (input.exceptDomains?.length) field.exceptDomains = [...new Set(input.exceptDomains)];
      if (field.onlyDomains && field.exceptDomains)
        problem("exceptDomains", "Use either onlyDomains or exceptDomains, not both.");
      break;
    case "date":
      for (const key of ["min", "max"] as const) {
        const raw = input[key];
        if (!raw) continue;
        const parsed = parseDate(raw);
        if (parsed === undefined) problem(key, "Must be a valid date.");
        else field[key] = parsed;
      }
      if (field.min && field.max && (field.min as string) > (field.max as string))
        problem("max", "Must be at least min.");
      break;
    case "select": {
      const values = [...new Set(input.values)];
      field.values = values;
      field.maxSelect = Math.max(1, input.maxSelect ?? 1);
      if (field.maxSelect > values.length)
        problem("maxSelect", "Must not exceed the number of values.");
      break;
    }
    case "json":
      field.maxSize = input.maxSize || DEFAULT_JSON_MAX_SIZE;
      break;
    case "relation": {
      const target = resolve(input.collectionId);
      if (!target) problem("collectionId", "Must name an existing collection.");
      field.collectionId = target?.id ?? input.collectionId;
      field.maxSelect = Math.max(1, input.maxSelect ?? 1);
      field.minSelect = input.minSelect ?? 0;
      if (field.minSelect > field.maxSelect) problem("minSelect", "Must not exceed maxSelect.");
      break;
    }
    case "autodate":
      field.onCreate = input.onCreate ?? true;
      field.onUpdate = input.onUpdate ?? false;
      if (!field.onCreate && !field.onUpdate)
        problem("onCreate", "Either onCreate or onUpdate must be enabled.");
      if (field.required) problem("required", "An autodate field is set by the server.");
      break;
    case "bool":
      break;
  }
  if (field.unique && (!UNIQUE_TYPES.has(field.type) || isMultiple(field))) {
    problem(
      "unique",
      "Only single-valued text, email, url, date, select and relation fields can be unique.",
    );
  }
  return field;
}

/** Normalizes the submitted fields of a new collection, skipping system fields sent back. */
function normalizeFields(
  type: CollectionType,
  inputs: readonly FieldInput[],
  errors: FieldErrors,
  resolve: RelationResolver,
  existing: readonly FieldDefinition[] = [],
): Array<{ input: FieldInput; field: FieldDefinition; index: number }> {
  const out: Array<{ input: FieldInput; field: FieldDefinition; index: number }> = [];
  const seen = new Set(existing.map((f) => f.name.toLowerCase()));
  inputs.forEach((input, index) => {
    if (isSystemField(type, input)) return;
    if (isReserved(type, input.name)) {
      errors[`fields.${index}.name`] = fieldError(
        "validation_reserved_name",
        `The name ${input.name} is reserved.`,
      );
      return;
    }
    if (input.type === "password") {
      errors[`fields.${index}.type`] = fieldError(
        "validation_invalid_value",
        "Password fields exist only as the password of auth collections.",
      );
      return;
    }
    const field = normalizeField(input, index, errors, resolve, undefined);
    if (!field) return;
    if (seen.has(field.name.toLowerCase())) {
      errors[`fields.${index}.name`] = fieldError(
        "validation_duplicated_name",
        `Field name ${field.name} is used twice (names are case-insensitive).`,
      );
      return;
    }
    seen.add(field.name.toLowerCase());
    out.push({ input, field, index });
  });
  return out;
}

function settleRules(input: Partial<Rules>, current?: Rules): Rules {
  const rules = {} as Rules;
  for (const name of RULE_NAMES) {
    rules[name] = input[name] !== undefined ? input[name] : (current?.[name] ?? null);
  }
  return rules;
}

export function definitionFromCreate(
  input: CollectionCreateInput,
  ids: { collectionId: string; now: string },
  resolveOther: RelationResolver,
): { definition: CollectionDefinition; change: SchemaChange } {
  const errors: FieldErrors = {};
  const type = input.type ?? "base";
  // A relation may point at the collection being created.
  const resolve: RelationResolver = (idOrName) =>
    idOrName === ids.collectionId || idOrName.toLowerCase() === input.name.toLowerCase()
      ? { id: ids.collectionId }
      : resolveOther(idOrName);
  const fields = normalizeFields(type, input.fields ?? [], errors, resolve).map((f) => f.field);
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed("Failed to create the collection.", errors);
  }
  const definition: CollectionDefinition = {
    id: ids.collectionId,
    name: input.name,
    type,
    fields,
    rules: settleRules(input),
    created: ids.now,
    updated: ids.now,
  };
  return {
    definition,
    change: {
      kind: "create",
      collection: { id: definition.id, name: definition.name, type },
      fields,
    },
  };
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

function isSubset(small: readonly string[] | undefined, big: readonly string[] | undefined) {
  const set = new Set(big ?? []);
  return (small ?? []).every((v) => set.has(v));
}

/**
 * Where `after` would reject a value `before` accepted: the option that
 * tightens, or undefined when `after` only loosens (or equals) `before`.
 */
export function tightenedOption(
  before: FieldDefinition,
  after: FieldDefinition,
): string | undefined {
  if (after.type !== before.type) return "type";
  if (after.required && !before.required) return "required";
  if (after.unique && !before.unique) return "unique";
  switch (before.type) {
    case "text":
    case "editor":
    case "password": {
      if (((after.min as number) ?? 0) > ((before.min as number) ?? 0)) return "min";
      const beforeMax = (before.max as number) || DEFAULT_TEXT_MAX;
      const afterMax = (after.max as number) || DEFAULT_TEXT_MAX;
      if (afterMax < beforeMax) return "max";
      if (after.pattern && after.pattern !== before.pattern) return "pattern";
      return undefined;
    }
    case "number":
      if (
        after.min != null &&
        (before.min == null || (after.min as number) > (before.min as number))
      )
        return "min";
      if (
        after.max != null &&
        (before.max == null || (after.max as number) < (before.max as number))
      )
        return "max";
      if (after.onlyInt && !before.onlyInt) return "onlyInt";
      return undefined;
    case "date":
      if (after.min && (!before.min || (after.min as string) > (before.min as string)))
        return "min";
      if (after.max && (!before.max || (after.max as string) < (before.max as string)))
        return "max";
      return undefined;
    case "email":
    case "url":
      if (
        after.onlyDomains &&
        !(before.onlyDomains && isSubset(before.onlyDomains, after.onlyDomains))
      )
        return "onlyDomains";
      if (!isSubset(after.exceptDomains, before.exceptDomains)) return "exceptDomains";
      return undefined;
    case "select":
      if (!isSubset(before.values, after.values)) return "values";
      if ((after.maxSelect ?? 1) < (before.maxSelect ?? 1)) return "maxSelect";
      return undefined;
    case "relation":
      if (after.collectionId !== before.collectionId) return "collectionId";
      if ((after.maxSelect ?? 1) < (before.maxSelect ?? 1)) return "maxSelect";
      if ((after.minSelect ?? 0) > (before.minSelect ?? 0)) return "minSelect";
      return undefined;
    case "json":
      if ((after.maxSize ?? 0) < (before.maxSize ?? 0)) return "maxSize";
      return undefined;
    case "autodate":
      if (after.onCreate !== before.onCreate) return "onCreate";
      if (after.onUpdate !== before.onUpdate) return "onUpdate";
      return undefined;
    case "bool":
      return undefined;
  }
}

/** Whether anything besides `hidden` differs (hidden only changes what the API shows). */
function schemaDiffers(before: FieldDefinition, after: FieldDefinition): boolean {
  const strip = ({ hidden: _hidden, ...rest }: FieldDefinition) => rest;
  const a = strip(before);
  const b = strip(after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (Array.isArray(x) || Array.isArray(y)) {
      if (!sameList(x as string[], y as string[])) return true;
    } else if (x !== y) return true;
  }
  return false;
}

/**
 * Applies a PATCH: fields listed are added (new name) or changed (existing
 * name, options may only loosen); fields not listed stay as they are;
 * rules listed replace the old ones. Returns the new definition and the
 * schema changes it makes, in order.
 */
export function definitionFromUpdate(
  current: CollectionDefinition,
  input: CollectionUpdateInput,
  now: string,
  resolve: RelationResolver,
): { definition: CollectionDefinition; changes: SchemaChange[] } {
  const errors: FieldErrors = {};
  if (input.name !== undefined && input.name !== current.name) {
    errors.name = fieldError("validation_immutable", "Collections cannot be renamed.");
  }
  if (input.type !== undefined && input.type !== current.type) {
    errors.type = fieldError("validation_immutable", "A collection's type cannot change.");
  }
  if (input.id !== undefined && input.id !== current.id) {
    errors.id = fieldError("validation_immutable", "A collection's id cannot change.");
  }
  const byName = new Map(current.fields.map((f) => [f.name.toLowerCase(), f]));
  const fields = [...current.fields];
  const added: FieldDefinition[] = [];
  const altered: Array<{ before: FieldDefinition; after: FieldDefinition }> = [];
  const seen = new Set<string>();
  (input.fields ?? []).forEach((fieldInput, index) => {
    const lower = fieldInput.name.toLowerCase();
    if (seen.has(lower)) {
      errors[`fields.${index}.name`] = fieldError(
        "validation_duplicated_name",
        `Field name ${fieldInput.name} is used twice (names are case-insensitive).`,
      );
      return;
    }
    seen.add(lower);
    const before = byName.get(lower);
    if (!before) {
      if (fieldInput.id !== undefined && current.fields.some((f) => f.id === fieldInput.id)) {
        errors[`fields.${index}.name`] = fieldError(
          "validation_immutable",
          "Fields cannot be renamed (changes are append-only).",
        );
        return;
      }
      const scoped: FieldErrors = {};
      const [entry] = normalizeFields(current.type, [fieldInput], scoped, resolve, fields);
      // Errors name the entry's position in this request, not in the one-element list.
      for (const [key, error] of Object.entries(scoped)) {
        errors[key.replace(/^fields\.0\./, `fields.${index}.`)] = error;
      }
      if (entry && Object.keys(scoped).length === 0) {
        fields.push(entry.field);
        added.push(entry.field);
      }
      return;
    }
    if (before.name !== fieldInput.name) {
      errors[`fields.${index}.name`] = fieldError(
        "validation_immutable",
        "Fields cannot be renamed (changes are append-only).",
      );
      return;
    }
    const scoped: FieldErrors = {};
    const after = normalizeField(fieldInput, 0, scoped, resolve, before.id);
    for (const [key, error] of Object.entries(scoped)) {
      errors[key.replace(/^fields\.0\./, `fields.${index}.`)] = error;
    }
    if (!after || Object.keys(scoped).length > 0) return;
    const tightened = tightenedOption(before, after);
    if (tightened) {
      errors[`fields.${index}.${tightened}`] = fieldError(
        "validation_not_loosening",
        `The ${tightened} option of ${before.name} can only be loosened (changes are append-only).`,
      );
      return;
    }
    if (!schemaDiffers(before, after) && before.hidden === after.hidden) return;
    fields[fields.indexOf(before)] = after;
    if (schemaDiffers(before, after)) altered.push({ before, after });
  });
  if (Object.keys(errors).length > 0) {
    throw new ValidationFailed("Failed to update the collection.", errors);
  }
  const ref = { id: current.id, name: current.name };
  const changes: SchemaChange[] = [
    ...added.map((field): SchemaChange => ({ kind: "add_field", collection: ref, field })),
    ...altered.map(
      ({ before, after }): SchemaChange => ({
        kind: "alter_field",
        collection: ref,
        before,
        after,
      }),
    ),
  ];
  const rulesChanged = RULE_NAMES.some((name) => input[name] !== undefined);
  const changed =
    changes.length > 0 || rulesChanged || fields.some((f, i) => f !== current.fields[i]);
  return {
    definition: {
      ...current,
      fields,
      rules: settleRules(input, current.rules),
      updated: changed ? now : current.updated,
    },
    changes,
  };
}
