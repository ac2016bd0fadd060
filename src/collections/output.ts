/**
 * Stored rows to PocketBase's record JSON: `collectionId`, `collectionName`,
 * `id`, the fields, `created`, `updated`. Hidden fields only for superusers;
 * an auth record's email only for superusers, the record itself, or when
 * `emailVisibility` is on. `fields=` picks keys (and `:excerpt(n, ellipsis)`).
 */
import type { Collection } from "./collection.js";
import { fieldError, ValidationFailed } from "./errors.js";
import { type Reader, readerOf } from "./fields.js";
import type { Caller } from "./rules.js";

export type ApiRecord = Record<string, unknown>;

interface ColumnReader {
  name: string;
  read: Reader;
  hidden: boolean;
}

const readers = new WeakMap<Collection, ColumnReader[]>();

function readersOf(collection: Collection): ColumnReader[] {
  let list = readers.get(collection);
  if (!list) {
    list = collection.fields.map((field) => ({
      name: field.name,
      read: readerOf(field),
      hidden: field.hidden,
    }));
    readers.set(collection, list);
  }
  return list;
}

const readBool = readerOf({ type: "bool" });

/** One stored row as the caller may see it. */
export function toApiRecord(
  collection: Collection,
  row: Record<string, unknown>,
  caller: Caller,
): ApiRecord {
  const out: ApiRecord = {
    collectionId: collection.id,
    collectionName: collection.name,
    id: row.id,
  };
  if (collection.isAuth) {
    const visible = readBool(row.emailVisibility) as boolean;
    const self = caller.record?.collectionId === collection.id && caller.record.id === row.id;
    if (visible || self || caller.superuser) out.email = row.email;
    out.emailVisibility = visible;
    out.verified = readBool(row.verified);
  }
  for (const column of readersOf(collection)) {
    if (column.hidden && !caller.superuser) continue;
    out[column.name] = column.read(row[column.name]);
  }
  out.created = row.created;
  out.updated = row.updated;
  return out;
}

/** The record with every field, as a superuser sees it (for events and @request.auth). */
export function fullApiRecord(collection: Collection, row: Record<string, unknown>): ApiRecord {
  return toApiRecord(collection, row, { superuser: true, auth: null });
}

interface PickedField {
  name: string;
  excerpt?: { max: number; ellipsis: boolean };
}

/** A parsed `fields=` parameter: which keys to keep, or undefined for all. */
export type FieldsSelector = PickedField[] | undefined;

const SYSTEM_KEYS = new Set(["collectionId", "collectionName", "id", "created", "updated"]);
const AUTH_KEYS = new Set(["email", "emailVisibility", "verified"]);
const EXCERPT = /^([A-Za-z][A-Za-z0-9_]*):excerpt\(\s*(\d+)\s*(?:,\s*(true|false)\s*)?\)$/;

export function parseFieldsParam(collection: Collection, raw: string | undefined): FieldsSelector {
  if (raw === undefined || raw.trim() === "" || raw.trim() === "*") return undefined;
  if (raw.length > 2000) {
    throw new ValidationFailed("Invalid fields parameter.", {
      fields: fieldError("validation_length_too_long", "The fields parameter is too long."),
    });
  }
  const known = (name: string) =>
    SYSTEM_KEYS.has(name) ||
    collection.fieldsByName.has(name) ||
    (collection.isAuth && AUTH_KEYS.has(name));
  const picked: PickedField[] = [];
  // Commas inside excerpt(...) do not separate entries.
  for (const part of raw.split(/,(?![^(]*\))/)) {
    const entry = part.trim();
    if (entry === "" || entry === "*" || entry.startsWith("expand")) continue;
    const excerpt = EXCERPT.exec(entry);
    const name = excerpt ? excerpt[1]! : entry;
    if (!known(name)) {
      throw new ValidationFailed("Invalid fields parameter.", {
        fields: fieldError("validation_unknown_field", `Unknown field ${JSON.stringify(name)}.`),
      });
    }
    picked.push(
      excerpt
        ? { name, excerpt: { max: Number(excerpt[2]), ellipsis: excerpt[3] === "true" } }
        : { name },
    );
  }
  return picked.length > 0 ? picked : undefined;
}

function excerptOf(value: unknown, max: number, ellipsis: boolean): string {
  const text = String(value ?? "")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  const chars = [...text];
  if (chars.length <= max) return text;
  return chars.slice(0, max).join("").trimEnd() + (ellipsis ? "..." : "");
}

export function pickFields(record: ApiRecord, selector: FieldsSelector): ApiRecord {
  if (!selector) return record;
  const out: ApiRecord = {};
  for (const picked of selector) {
    if (!(picked.name in record)) continue;
    const value = record[picked.name];
    out[picked.name] = picked.excerpt
      ? excerptOf(value, picked.excerpt.max, picked.excerpt.ellipsis)
      : value;
  }
  return out;
}
