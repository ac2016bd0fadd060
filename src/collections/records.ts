/**
 * The record store: PocketBase's record operations on one tenant's database,
 * through its handle (so they can only reach that tenant). Writes run in the
 * handle's transaction, one at a time per tenant; rules are SQL conditions
 * in the same statements; an event "record" is broadcast after each commit.
 */
import { type Kysely, type RawBuilder, type SqlBool, sql } from "kysely";
import type { TenantHandle } from "../core/handle.js";
import type { Collection } from "./collection.js";
import { type FieldDefinition, isMultiple, PASSWORD_MAX, PASSWORD_MIN } from "./definition.js";
import {
  CreateRuleFailed,
  type FieldErrors,
  fieldError,
  RecordNotFound,
  ValidationFailed,
} from "./errors.js";
import { prepareValue } from "./fields.js";
import { type FilterContext, filterToSql, parseSort } from "./filter/index.js";
import { formatDate, isRecordId, newRecordId, newSecret } from "./ids.js";
import {
  type ApiRecord,
  type FieldsSelector,
  fullApiRecord,
  pickFields,
  toApiRecord,
} from "./output.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type { Collections } from "./registry.js";
import { type Caller, filterContext, gate, ruleCondition } from "./rules.js";

export interface ListQuery {
  page: number;
  perPage: number;
  sort?: string;
  filter?: string;
  skipTotal?: boolean;
  fields?: FieldsSelector;
}

export interface ListResult {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: ApiRecord[];
}

export type RecordAction = "create" | "update" | "delete";

/** The payload of the "record" event each committed write broadcasts on its tenant. */
export interface RecordEvent {
  collection: string;
  collectionId: string;
  action: RecordAction;
  /** The record as a superuser sees it (hidden fields included; never password or tokenKey). */
  record: ApiRecord;
}

type Row = Record<string, unknown>;

/** Body keys of PocketBase's records that are not fields: accepted and ignored. */
const IGNORED_KEYS = new Set(["collectionId", "collectionName", "expand", "created", "updated"]);
const MODIFIER = /^(\+)?([A-Za-z][A-Za-z0-9_]*)([+-])?$/;

function invalid(message: string, errors: FieldErrors): ValidationFailed {
  return new ValidationFailed(message, errors);
}

/**
 * Applies PocketBase's modifiers (`n+`, `n-` on numbers; `tags+`, `+tags`,
 * `tags-` on multi-valued select/relation) against the current values, and
 * returns the plain body (what rules see as @request.body).
 */
function resolveModifiers(
  collection: Collection,
  body: Record<string, unknown>,
  current: ApiRecord | undefined,
  errors: FieldErrors,
): Record<string, unknown> {
  // No prototype: body keys such as __proto__ stay plain keys (and are reported as unknown).
  const plain: Record<string, unknown> = Object.create(null);
  const modified: Array<[string, string, string | undefined, unknown]> = [];
  for (const [key, value] of Object.entries(body)) {
    const match = MODIFIER.exec(key);
    if (match && (match[1] || match[3]))
      modified.push([key, match[2]!, match[1] ?? match[3], value]);
    else plain[key] = value;
  }
  for (const [key, name, op, value] of modified) {
    const field = collection.fieldsByName.get(name);
    const base = name in plain ? plain[name] : current?.[name];
    if (field?.type === "number") {
      const amount = typeof value === "number" ? value : Number(value);
      if (key.startsWith("+") || typeof value === "boolean" || !Number.isFinite(amount)) {
        errors[key] = fieldError("validation_invalid_modifier", "Invalid modifier value.");
        continue;
      }
      plain[name] = Number(base ?? 0) + (op === "-" ? -amount : amount);
    } else if (
      field &&
      (field.type === "select" || field.type === "relation") &&
      isMultiple(field)
    ) {
      const list = Array.isArray(base) ? [...base] : base ? [base] : [];
      const items = Array.isArray(value) ? value : [value];
      if (key.endsWith("-")) plain[name] = list.filter((item) => !items.includes(item));
      else plain[name] = key.startsWith("+") ? [...items, ...list] : [...list, ...items];
    } else {
      errors[key] = fieldError(
        field ? "validation_invalid_modifier" : "validation_unknown_field",
        field ? `The ${key} modifier does not apply to this field.` : "Unknown field.",
      );
    }
  }
  return plain;
}

interface PreparedWrite {
  /** Column values to write. */
  values: Row;
  /** The body after modifiers (for @request.body). */
  body: Record<string, unknown>;
  /** The new password, when one is set (hashed later, outside the tenant's queue). */
  password?: string;
}

export class RecordStore {
  readonly #collections: Collections;
  readonly #dialect: FilterContext["dialect"];

  constructor(collections: Collections, dialect: FilterContext["dialect"]) {
    this.#collections = collections;
    this.#dialect = dialect;
  }

  #where(
    collection: Collection,
    caller: Caller,
    rule: ReturnType<typeof gate>,
    body?: Record<string, unknown>,
  ): RawBuilder<SqlBool> | undefined {
    return rule.kind === "filter"
      ? ruleCondition(collection, rule, this.#dialect, caller, body)
      : undefined;
  }

  async list(
    handle: TenantHandle,
    collection: Collection,
    caller: Caller,
    query: ListQuery,
  ): Promise<ListResult> {
    const rule = gate(collection, "listRule", caller);
    const conditions: RawBuilder<SqlBool>[] = [];
    const ruleSql = this.#where(collection, caller, rule);
    if (ruleSql) conditions.push(ruleSql);
    const hasFilter = query.filter !== undefined && query.filter.trim() !== "";
    // Built only when needed: most list requests have neither filter nor sort.
    const ctx =
      hasFilter || query.sort ? filterContext(collection, this.#dialect, caller) : undefined;
    if (hasFilter) conditions.push(filterToSql(query.filter!, ctx!));
    const sorts = query.sort ? parseSort(query.sort, ctx!) : [];
    let items = handle.db.selectFrom(collection.table).select(collection.columns as string[]);
    for (const condition of conditions) items = items.where(condition);
    for (const sort of sorts) items = items.orderBy(sort.orderBy as any);
    const rows = await items
      .limit(query.perPage)
      .offset((query.page - 1) * query.perPage)
      .execute();
    let totalItems = -1;
    let totalPages = -1;
    if (!query.skipTotal) {
      let count = handle.db.selectFrom(collection.table).select(sql<number>`count(*)`.as("n"));
      for (const condition of conditions) count = count.where(condition);
      totalItems = Number((await count.executeTakeFirstOrThrow()).n);
      totalPages = Math.ceil(totalItems / query.perPage);
    }
    return {
      page: query.page,
      perPage: query.perPage,
      totalItems,
      totalPages,
      items: rows.map((row) => pickFields(toApiRecord(collection, row, caller), query.fields)),
    };
  }

  async view(
    handle: TenantHandle,
    collection: Collection,
    caller: Caller,
    id: string,
    fields?: FieldsSelector,
  ): Promise<ApiRecord> {
    const rule = gate(collection, "viewRule", caller);
    if (!isRecordId(id)) throw new RecordNotFound();
    let query = handle.db
      .selectFrom(collection.table)
      .select(collection.columns as string[])
      .where("id", "=", id);
    const ruleSql = this.#where(collection, caller, rule);
    if (ruleSql) query = query.where(ruleSql);
    const row = await query.executeTakeFirst();
    if (!row) throw new RecordNotFound();
    return pickFields(toApiRecord(collection, row, caller), fields);
  }

  /**
   * Checks every field of the record that would result (current values
   * overlaid with the body) and converts it for storage. Collects every
   * problem before throwing, as PocketBase does.
   */
  #prepare(
    collection: Collection,
    caller: Caller,
    resolved: { plain: Record<string, unknown>; errors: FieldErrors },
    current: ApiRecord | undefined,
  ): PreparedWrite {
    const { plain, errors } = resolved;
    const values: Row = {};
    const write: PreparedWrite = { values, body: plain };
    for (const [key, raw] of Object.entries(plain)) {
      if (IGNORED_KEYS.has(key) || collection.fieldsByName.has(key)) continue;
      if (key === "id") {
        if (current && raw !== current.id) {
          errors.id = fieldError(
            "validation_pk_change",
            "The record primary key cannot be changed.",
          );
        } else if (!current && raw !== undefined && raw !== "" && !isRecordId(raw)) {
          errors.id = fieldError(
            "validation_invalid_format",
            "Must be 15 characters from a-z and 0-9.",
          );
        }
        continue;
      }
      if (collection.isAuth && AUTH_BODY_KEYS.has(key)) continue;
      errors[key] = fieldError("validation_unknown_field", "Unknown field.");
    }
    for (const field of collection.fields) {
      if (field.type === "autodate") continue;
      let given = Object.hasOwn(plain, field.name);
      // Hidden fields are the superusers' to set (PocketBase drops them for others).
      if (given && field.hidden && !caller.superuser) {
        delete plain[field.name];
        given = false;
      }
      // An untouched field of an existing record is not re-checked against options changed since.
      if (current && !given) continue;
      const prepared = prepareValue(field, given ? plain[field.name] : undefined);
      if (prepared.ok) values[field.name] = prepared.value;
      else errors[field.name] = prepared.error;
    }
    if (collection.isAuth) this.#prepareAuth(plain, current, caller, values, errors, write);
    if (Object.keys(errors).length > 0) {
      throw invalid(current ? "Failed to update record." : "Failed to create record.", errors);
    }
    return write;
  }

  #prepareAuth(
    body: Record<string, unknown>,
    current: ApiRecord | undefined,
    caller: Caller,
    values: Row,
    errors: FieldErrors,
    write: PreparedWrite,
  ): void {
    if (!current || Object.hasOwn(body, "email")) {
      const email = prepareValue(EMAIL_FIELD, body.email);
      if (email.ok) values.email = email.value;
      else errors.email = email.error;
    }
    for (const key of ["emailVisibility", "verified"] as const) {
      if (!Object.hasOwn(body, key)) continue;
      const flag = prepareValue(BOOL_FIELD, body[key]);
      if (!flag.ok) errors[key] = flag.error;
      else if (
        key === "verified" &&
        !caller.superuser &&
        flag.value !== ((current?.verified as boolean | undefined) ?? false)
      ) {
        errors.verified = fieldError(
          "validation_forbidden",
          "Only superusers can change the verified state.",
        );
      } else values[key] = flag.value;
    }
    const password = body.password;
    if (!current || password !== undefined) {
      if (typeof password !== "string" || password === "") {
        errors.password = fieldError("validation_required", "Cannot be blank.");
      } else if ([...password].length < PASSWORD_MIN || [...password].length > PASSWORD_MAX) {
        errors.password = fieldError(
          [...password].length < PASSWORD_MIN
            ? "validation_min_text_constraint"
            : "validation_max_text_constraint",
          `Must be between ${PASSWORD_MIN} and ${PASSWORD_MAX} characters.`,
        );
      } else write.password = password;
      if (body.passwordConfirm !== password) {
        errors.passwordConfirm = fieldError("validation_values_mismatch", "Values don't match.");
      }
      if (current && !caller.superuser && typeof body.oldPassword !== "string") {
        errors.oldPassword = fieldError("validation_required", "Cannot be blank.");
      }
    }
  }

  /** Unique values and relation targets, checked inside the write's transaction. */
  async #checkReferences(
    trx: Kysely<any>,
    collection: Collection,
    values: Row,
    id: string,
  ): Promise<void> {
    const errors: FieldErrors = Object.create(null);
    for (const field of collection.fields) {
      const value = values[field.name];
      if (value === undefined) continue;
      if (field.unique && value !== "") {
        const clash = await trx
          .selectFrom(collection.table)
          .select("id")
          .where(field.name, "=", value)
          .where("id", "<>", id)
          .limit(1)
          .executeTakeFirst();
        if (clash)
          errors[field.name] = fieldError("validation_not_unique", "Value must be unique.");
      }
      if (field.type === "relation" && value !== "" && value !== "[]") {
        if (!(await this.#relationExists(trx, field, value as string))) {
          errors[field.name] = fieldError(
            "validation_missing_rel_records",
            "Failed to find all relation records with the provided ids.",
          );
        }
      }
    }
    if (collection.isAuth && typeof values.email === "string" && values.email !== "") {
      const clash = await trx
        .selectFrom(collection.table)
        .select("id")
        .where(sql<SqlBool>`lower(${sql.ref("email")}) = lower(${values.email})`)
        .where("id", "<>", id)
        .limit(1)
        .executeTakeFirst();
      if (clash) errors.email = fieldError("validation_not_unique", "Value must be unique.");
    }
    if (Object.keys(errors).length > 0) throw invalid("Failed to save record.", errors);
  }

  async #relationExists(
    trx: Kysely<any>,
    field: FieldDefinition,
    stored: string,
  ): Promise<boolean> {
    const target = this.#collections.get(field.collectionId!);
    if (!target) return false;
    const ids: string[] = isMultiple(field) ? JSON.parse(stored) : [stored];
    const row = await trx
      .selectFrom(target.table)
      .select(sql<number>`count(*)`.as("n"))
      .where("id", "in", ids)
      .executeTakeFirstOrThrow();
    return Number(row.n) === ids.length;
  }

  async create(
    handle: TenantHandle,
    collection: Collection,
    caller: Caller,
    body: Record<string, unknown>,
  ): Promise<ApiRecord> {
    const rule = gate(collection, "createRule", caller);
    const errors: FieldErrors = Object.create(null);
    const plain = resolveModifiers(collection, body, undefined, errors);
    const write = this.#prepare(collection, caller, { plain, errors }, undefined);
    const now = formatDate(new Date());
    const chosenId = typeof body.id === "string" && body.id !== "" ? body.id : undefined;
    const id = chosenId ?? newRecordId();
    const values: Row = { id, ...write.values, created: now, updated: now };
    for (const field of collection.fields) {
      if (field.type === "autodate") values[field.name] = now;
    }
    if (collection.isAuth) {
      // Hashing is slow on purpose: done before taking the tenant's queue.
      values.password = await hashPassword(write.password!);
      values.tokenKey = newSecret();
      values.emailVisibility ??= false;
      values.verified ??= false;
    }
    return handle.transaction(async (trx) => {
      // A generated id is 15 random characters: only a chosen one can be taken.
      const taken =
        chosenId !== undefined &&
        (await trx
          .selectFrom(collection.table)
          .select("id")
          .where("id", "=", id)
          .executeTakeFirst());
      if (taken) {
        throw invalid("Failed to create record.", {
          id: fieldError(
            "validation_pk_invalid",
            "The record primary key is invalid or already exists.",
          ),
        });
      }
      await this.#checkReferences(trx, collection, values, id);
      await trx.insertInto(collection.table).values(values).execute();
      if (rule.kind === "filter") {
        const allowed = await trx
          .selectFrom(collection.table)
          .select("id")
          .where("id", "=", id)
          .where(ruleCondition(collection, rule, this.#dialect, caller, write.body))
          .executeTakeFirst();
        // Throwing rolls the insert back.
        if (!allowed) throw new CreateRuleFailed();
      }
      const record = fullApiRecord(collection, values);
      this.#broadcast(handle, collection, "create", record);
      return toApiRecord(collection, values, caller);
    });
  }

  async update(
    handle: TenantHandle,
    collection: Collection,
    caller: Caller,
    id: string,
    body: Record<string, unknown>,
  ): Promise<ApiRecord> {
    const rule = gate(collection, "updateRule", caller);
    if (!isRecordId(id)) throw new RecordNotFound();
    const newPassword = collection.isAuth && typeof body.password === "string" ? body.password : "";
    const hashed = newPassword ? await hashPassword(newPassword) : undefined;
    return handle.transaction(async (trx) => {
      const columns = collection.isAuth
        ? [...collection.columns, "password", "tokenKey"]
        : collection.columns;
      const row = await trx
        .selectFrom(collection.table)
        .select(columns as string[])
        .where("id", "=", id)
        .executeTakeFirst();
      if (!row) throw new RecordNotFound();
      const current = fullApiRecord(collection, row);
      const errors: FieldErrors = Object.create(null);
      const plain = resolveModifiers(collection, body, current, errors);
      // Access first: a caller the rule shuts out learns nothing from validation errors.
      if (rule.kind === "filter") {
        const allowed = await trx
          .selectFrom(collection.table)
          .select("id")
          .where("id", "=", id)
          .where(ruleCondition(collection, rule, this.#dialect, caller, plain))
          .executeTakeFirst();
        if (!allowed) throw new RecordNotFound();
      }
      const write = this.#prepare(collection, caller, { plain, errors }, current);
      if (hashed && !caller.superuser) {
        const old = body.oldPassword;
        if (typeof old !== "string" || !(await verifyPassword(old, row.password as string))) {
          throw invalid("Failed to update record.", {
            oldPassword: fieldError(
              "validation_invalid_old_password",
              "Missing or invalid old password.",
            ),
          });
        }
      }
      const now = formatDate(new Date());
      const changes: Row = { ...write.values, updated: now };
      for (const field of collection.fields) {
        if (field.type === "autodate" && field.onUpdate) changes[field.name] = now;
      }
      if (hashed) {
        changes.password = hashed;
        // A new password signs every existing token out.
        changes.tokenKey = newSecret();
      }
      await this.#checkReferences(trx, collection, changes, id);
      await trx.updateTable(collection.table).set(changes).where("id", "=", id).execute();
      const updated = { ...row, ...changes };
      this.#broadcast(handle, collection, "update", fullApiRecord(collection, updated));
      return toApiRecord(collection, updated, caller);
    });
  }

  async delete(
    handle: TenantHandle,
    collection: Collection,
    caller: Caller,
    id: string,
  ): Promise<void> {
    const rule = gate(collection, "deleteRule", caller);
    if (!isRecordId(id)) throw new RecordNotFound();
    await handle.transaction(async (trx) => {
      let query = trx
        .selectFrom(collection.table)
        .select(collection.columns as string[])
        .where("id", "=", id);
      const ruleSql = this.#where(collection, caller, rule);
      if (ruleSql) query = query.where(ruleSql);
      const row = await query.executeTakeFirst();
      if (!row) throw new RecordNotFound();
      await trx.deleteFrom(collection.table).where("id", "=", id).execute();
      this.#broadcast(handle, collection, "delete", fullApiRecord(collection, row));
    });
  }

  #broadcast(
    handle: TenantHandle,
    collection: Collection,
    action: RecordAction,
    record: ApiRecord,
  ): void {
    const event: RecordEvent = {
      collection: collection.name,
      collectionId: collection.id,
      action,
      record,
    };
    handle.broadcast("record", event);
  }

  /**
   * Finds the auth record with this email (any case) and checks the
   * password; undefined when either is wrong (in about the same time).
   */
  async authenticate(
    handle: TenantHandle,
    collection: Collection,
    identity: string,
    password: string,
  ): Promise<{ row: Row; record: ApiRecord } | undefined> {
    const row = await handle.db
      .selectFrom(collection.table)
      .select([...collection.columns, "password", "tokenKey"] as string[])
      .where(sql<SqlBool>`lower(${sql.ref("email")}) = lower(${identity})`)
      .limit(1)
      .executeTakeFirst();
    const matches = await verifyPassword(password, row?.password as string | undefined);
    if (!row || !matches) return undefined;
    return { row, record: this.authRecordView(collection, row) };
  }

  /** An auth record with its token key, for checking a token (undefined if gone). */
  async findAuthRecord(
    handle: TenantHandle,
    collection: Collection,
    id: string,
  ): Promise<{ row: Row; record: ApiRecord } | undefined> {
    if (!isRecordId(id)) return undefined;
    const row = await handle.db
      .selectFrom(collection.table)
      .select([...collection.columns, "tokenKey"] as string[])
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? { row, record: this.authRecordView(collection, row) } : undefined;
  }

  /** The auth record as its owner sees it (email always shown, hidden fields not). */
  authRecordView(collection: Collection, row: Row): ApiRecord {
    return toApiRecord(collection, row, {
      superuser: false,
      auth: null,
      record: { collectionId: collection.id, id: row.id as string },
    });
  }
}

const AUTH_BODY_KEYS = new Set([
  "email",
  "emailVisibility",
  "verified",
  "password",
  "passwordConfirm",
  "oldPassword",
]);

const EMAIL_FIELD: FieldDefinition = {
  id: "email",
  name: "email",
  type: "email",
  required: true,
  hidden: false,
  unique: false,
};

const BOOL_FIELD: FieldDefinition = {
  id: "bool",
  name: "bool",
  type: "bool",
  required: false,
  hidden: false,
  unique: false,
};
