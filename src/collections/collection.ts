/**
 * A collection as the record store uses it: the definition plus what is
 * derived from it once (columns, the filter's field map, rules), so a request
 * allocates nothing per collection.
 */
import type { CollectionDefinition, FieldDefinition } from "./definition.js";
import { isMultiple, PASSWORD_MAX, PASSWORD_MIN } from "./definition.js";
import type { FilterField, FilterFieldType } from "./filter/index.js";
import type { CollectionType, Rules } from "./schema.js";

/** PocketBase's JSON shape of a field, system fields included. */
export type FieldJson = Record<string, unknown> & { name: string; type: string };

const SYSTEM_ID_FIELD: FieldJson = {
  id: "text3208210256",
  name: "id",
  type: "text",
  system: true,
  hidden: false,
  presentable: false,
  required: true,
  primaryKey: true,
  min: 15,
  max: 15,
  pattern: "^[a-z0-9]+$",
  autogeneratePattern: "[a-z0-9]{15}",
};

function autodateJson(name: "created" | "updated"): FieldJson {
  return {
    id: name === "created" ? "autodate2990389176" : "autodate3332085495",
    name,
    type: "autodate",
    system: true,
    hidden: false,
    presentable: false,
    onCreate: true,
    onUpdate: name === "updated",
  };
}

const AUTH_FIELDS_JSON: FieldJson[] = [
  {
    id: "password901924565",
    name: "password",
    type: "password",
    system: true,
    hidden: true,
    presentable: false,
    required: true,
    min: PASSWORD_MIN,
    max: PASSWORD_MAX,
    pattern: "",
    cost: 0,
  },
  {
    id: "text2504183744",
    name: "tokenKey",
    type: "text",
    system: true,
    hidden: true,
    presentable: false,
    required: true,
    min: 30,
    max: 60,
    pattern: "",
    autogeneratePattern: "[a-zA-Z0-9]{50}",
    primaryKey: false,
  },
  {
    id: "email3885137012",
    name: "email",
    type: "email",
    system: true,
    hidden: false,
    presentable: false,
    required: true,
    exceptDomains: null,
    onlyDomains: null,
  },
  {
    id: "bool1547992806",
    name: "emailVisibility",
    type: "bool",
    system: true,
    hidden: false,
    presentable: false,
    required: false,
  },
  {
    id: "bool256245529",
    name: "verified",
    type: "bool",
    system: true,
    hidden: false,
    presentable: false,
    required: false,
  },
];

export function fieldJson(field: FieldDefinition): FieldJson {
  const { unique: _unique, ...rest } = field;
  const out: FieldJson = { ...rest, system: false, presentable: false };
  if (field.unique) out.unique = true;
  return out;
}

function filterField(
  name: string,
  type: FilterFieldType,
  extra: Partial<FilterField> = {},
): [string, FilterField] {
  return [name, { name, column: name, type, ...extra }];
}

export class Collection {
  readonly id: string;
  readonly name: string;
  readonly type: CollectionType;
  /** The SQL table of the records (the collection's name). */
  readonly table: string;
  readonly definition: CollectionDefinition;
  readonly fields: readonly FieldDefinition[];
  readonly fieldsByName: ReadonlyMap<string, FieldDefinition>;
  readonly rules: Rules;
  /** Columns a record read selects (never password or tokenKey). */
  readonly columns: readonly string[];
  /** For filters and sorts of callers who may see hidden fields (superusers). */
  readonly filterFields: ReadonlyMap<string, FilterField>;
  readonly isAuth: boolean;

  constructor(definition: CollectionDefinition) {
    this.definition = definition;
    this.id = definition.id;
    this.name = definition.name;
    this.table = definition.name;
    this.type = definition.type;
    this.isAuth = definition.type === "auth";
    this.fields = definition.fields;
    this.fieldsByName = new Map(definition.fields.map((f) => [f.name, f]));
    this.rules = definition.rules;
    const auth = this.isAuth ? ["email", "emailVisibility", "verified"] : [];
    this.columns = ["id", ...auth, ...definition.fields.map((f) => f.name), "created", "updated"];
    const entries: Array<[string, FilterField]> = [filterField("id", "text")];
    if (this.isAuth) {
      entries.push(
        filterField("email", "email", { visibleWhen: "emailVisibility" }),
        filterField("emailVisibility", "bool"),
        filterField("verified", "bool"),
        filterField("password", "password", { hidden: true }),
        filterField("tokenKey", "text", { hidden: true }),
      );
    }
    for (const field of definition.fields) {
      entries.push(
        filterField(field.name, field.type, {
          ...(isMultiple(field) ? { multiple: true } : {}),
          ...(field.hidden ? { hidden: true } : {}),
        }),
      );
    }
    entries.push(filterField("created", "autodate"), filterField("updated", "autodate"));
    this.filterFields = new Map(entries);
  }

  /** PocketBase's collection JSON, system fields included. */
  toJSON(): Record<string, unknown> {
    const fields: FieldJson[] = [SYSTEM_ID_FIELD];
    if (this.isAuth) fields.push(...AUTH_FIELDS_JSON);
    fields.push(...this.fields.map(fieldJson), autodateJson("created"), autodateJson("updated"));
    return {
      id: this.id,
      name: this.name,
      type: this.type,
      system: false,
      fields,
      indexes: [],
      ...this.rules,
      created: this.definition.created,
      updated: this.definition.updated,
      ...(this.isAuth
        ? {
            passwordAuth: { enabled: true, identityFields: ["email"] },
            authRule: "",
            manageRule: null,
          }
        : {}),
    };
  }
}
