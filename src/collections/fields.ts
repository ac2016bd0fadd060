/**
 * Field values: from what a client sends (JSON) to what a tenant database
 * stores, with PocketBase's validation and error codes, and back. Stored
 * values are PocketBase's zero values when empty ("" / 0 / false / [] /
 * NULL for json), dates "YYYY-MM-DD HH:MM:SS.sssZ", multi-valued select and
 * relation and json as JSON text.
 */
import {
  DEFAULT_JSON_MAX_SIZE,
  DEFAULT_TEXT_MAX,
  type FieldDefinition,
  isMultiple,
} from "./definition.js";
import { type FieldError, fieldError } from "./errors.js";
import { isRecordId, parseDate } from "./ids.js";

export type Prepared = { ok: true; value: unknown } | { ok: false; error: FieldError };

const ok = (value: unknown): Prepared => ({ ok: true, value });
const fail = (code: string, message: string, params?: Record<string, unknown>): Prepared => ({
  ok: false,
  error: fieldError(code, message, params),
});
const REQUIRED = (): Prepared => fail("validation_required", "Cannot be blank.");

const patterns = new WeakMap<FieldDefinition, RegExp>();

function patternOf(field: FieldDefinition): RegExp {
  let pattern = patterns.get(field);
  if (!pattern) {
    pattern = new RegExp(field.pattern!, "u");
    patterns.set(field, pattern);
  }
  return pattern;
}

/** Length in code points, computed only when the UTF-16 length cannot decide. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function asText(raw: unknown): string | undefined {
  if (raw === null || raw === undefined) return "";
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
  if (typeof raw === "boolean") return String(raw);
  return undefined;
}

function checkLength(text: string, min: number, max: number): Prepared | undefined {
  // A code point takes one or two UTF-16 units, so the UTF-16 length usually decides alone.
  if (min > 0 && (text.length < min || (text.length < 2 * min && codePoints(text) < min))) {
    return fail("validation_min_text_constraint", `Must be at least ${min} character(s).`, { min });
  }
  if (text.length > max && codePoints(text) > max) {
    return fail("validation_max_text_constraint", `Must be no more than ${max} character(s).`, {
      max,
    });
  }
  return undefined;
}

function prepareText(field: FieldDefinition, raw: unknown): Prepared {
  const text = asText(raw);
  if (text === undefined) return fail("validation_invalid_value", "Must be a string.");
  if (text === "") return field.required ? REQUIRED() : ok("");
  const max = (field.max as number) || DEFAULT_TEXT_MAX;
  const length = checkLength(text, (field.min as number) ?? 0, max);
  if (length) return length;
  if (field.pattern && !patternOf(field).test(text)) {
    return fail("validation_invalid_format", "Invalid value format.");
  }
  return ok(text);
}

function prepareNumber(field: FieldDefinition, raw: unknown): Prepared {
  let value: number;
  if (raw === null || raw === undefined || raw === "") value = 0;
  else if (typeof raw === "number") value = raw;
  else if (typeof raw === "string" && raw.trim() !== "") value = Number(raw.trim());
  else if (typeof raw === "boolean") value = raw ? 1 : 0;
  else value = Number.NaN;
  if (!Number.isFinite(value)) {
    return fail("validation_not_a_number", "The submitted number is not properly formatted.");
  }
  if (value === 0 && field.required) return REQUIRED();
  if (field.onlyInt && !Number.isInteger(value)) {
    return fail("validation_only_int_constraint", "Decimal numbers are not allowed.");
  }
  if (field.min != null && value < (field.min as number)) {
    return fail("validation_min_number_constraint", `Must be greater or equal than ${field.min}.`, {
      min: field.min,
    });
  }
  if (field.max != null && value > (field.max as number)) {
    return fail("validation_max_number_constraint", `Must be less or equal than ${field.max}.`, {
      max: field.max,
    });
  }
  return ok(value);
}

const TRUE_TEXT = new Set(["true", "1"]);
const FALSE_TEXT = new Set(["false", "0", ""]);

function prepareBool(field: FieldDefinition, raw: unknown): Prepared {
  let value: boolean;
  if (raw === null || raw === undefined) value = false;
  else if (typeof raw === "boolean") value = raw;
  else if (raw === 1 || raw === 0) value = raw === 1;
  else if (typeof raw === "string" && TRUE_TEXT.has(raw.toLowerCase())) value = true;
  else if (typeof raw === "string" && FALSE_TEXT.has(raw.toLowerCase())) value = false;
  else return fail("validation_invalid_value", "Must be a boolean.");
  if (!value && field.required) return REQUIRED();
  return ok(value);
}

const EMAIL = /^[^\s@"<>(),;:\\[\]]+@[^\s@"<>(),;:\\[\]]+\.[^\s@"<>(),;:\\[\]]+$/;

function domainAllowed(field: FieldDefinition, domain: string): boolean {
  const lower = domain.toLowerCase();
  if (field.onlyDomains) return field.onlyDomains.some((d) => d.toLowerCase() === lower);
  if (field.exceptDomains) return !field.exceptDomains.some((d) => d.toLowerCase() === lower);
  return true;
}

function prepareEmail(field: FieldDefinition, raw: unknown): Prepared {
  const text = asText(raw);
  if (text === undefined) return fail("validation_invalid_value", "Must be a string.");
  if (text === "") return field.required ? REQUIRED() : ok("");
  if (text.length > 255 || !EMAIL.test(text)) {
    return fail("validation_is_email", "Must be a valid email address.");
  }
  if (!domainAllowed(field, text.slice(text.lastIndexOf("@") + 1))) {
    return fail("validation_email_domain_not_allowed", "Email domain is not allowed.");
  }
  return ok(text);
}

function prepareUrl(field: FieldDefinition, raw: unknown): Prepared {
  const text = asText(raw);
  if (text === undefined) return fail("validation_invalid_value", "Must be a string.");
  if (text === "") return field.required ? REQUIRED() : ok("");
  let url: URL | undefined;
  try {
    url =
      text.length <= 2048 && /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) ? new URL(text) : undefined;
  } catch {
    url = undefined;
  }
  if (!url?.hostname) return fail("validation_invalid_url", "Must be a valid url.");
  if (!domainAllowed(field, url.hostname)) {
    return fail("validation_url_domain_not_allowed", "Url domain is not allowed.");
  }
  return ok(text);
}

function prepareDate(field: FieldDefinition, raw: unknown): Prepared {
  if (raw === null || raw === undefined || raw === "") return field.required ? REQUIRED() : ok("");
  const value = typeof raw === "string" ? parseDate(raw) : undefined;
  if (value === undefined) return fail("validation_invalid_date", "Must be a valid date.");
  if (field.min && value < (field.min as string)) {
    return fail(
      "validation_min_greater_equal_than_required",
      `Must be no less than ${field.min}.`,
      {
        threshold: field.min,
      },
    );
  }
  if (field.max && value > (field.max as string)) {
    return fail(
      "validation_max_less_equal_than_required",
      `Must be no greater than ${field.max}.`,
      {
        threshold: field.max,
      },
    );
  }
  return ok(value);
}

/** The values of a select or relation as a de-duplicated list of strings, or undefined if not strings. */
function asList(raw: unknown): string[] | undefined {
  if (raw === null || raw === undefined || raw === "") return [];
  const items = Array.isArray(raw) ? raw : [raw];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== "string") return undefined;
    if (item !== "" && !out.includes(item)) out.push(item);
  }
  return out;
}

function prepareChoice(field: FieldDefinition, raw: unknown): Prepared {
  let list = asList(raw);
  if (list === undefined)
    return fail("validation_invalid_value", "Must be a string or a list of strings.");
  const multiple = isMultiple(field);
  // PocketBase keeps the last of several values given to a single-valued field.
  if (!multiple && list.length > 1) list = [list[list.length - 1]!];
  if (list.length === 0) {
    if (field.required) return REQUIRED();
    return ok(multiple ? "[]" : "");
  }
  const maxSelect = field.maxSelect ?? 1;
  if (list.length > maxSelect) {
    return fail("validation_too_many_values", `Select no more than ${maxSelect}.`, { maxSelect });
  }
  if (field.type === "select") {
    for (const value of list) {
      if (!field.values!.includes(value)) {
        return fail("validation_invalid_value", `Invalid value ${value}.`, { value });
      }
    }
  } else {
    if ((field.minSelect ?? 0) > list.length) {
      return fail("validation_not_enough_values", `Select at least ${field.minSelect}.`, {
        minSelect: field.minSelect,
      });
    }
    if (!list.every(isRecordId)) {
      return fail(
        "validation_missing_rel_records",
        "Failed to find all relation records with the provided ids.",
      );
    }
  }
  return ok(multiple ? JSON.stringify(list) : list[0]);
}

function prepareJson(field: FieldDefinition, raw: unknown): Prepared {
  if (raw === undefined || raw === null) return field.required ? REQUIRED() : ok(null);
  const text = JSON.stringify(raw);
  const maxSize = field.maxSize || DEFAULT_JSON_MAX_SIZE;
  if (Buffer.byteLength(text) > maxSize) {
    return fail(
      "validation_json_size_limit",
      `The maximum allowed JSON size is ${maxSize} bytes.`,
      {
        maxSize,
      },
    );
  }
  if (field.required && (text === '""' || text === "[]" || text === "{}")) return REQUIRED();
  return ok(text);
}

/** Validates a submitted value and converts it to what the database stores. */
export function prepareValue(field: FieldDefinition, raw: unknown): Prepared {
  switch (field.type) {
    case "text":
    case "editor":
    case "password":
      return prepareText(field, raw);
    case "number":
      return prepareNumber(field, raw);
    case "bool":
      return prepareBool(field, raw);
    case "email":
      return prepareEmail(field, raw);
    case "url":
      return prepareUrl(field, raw);
    case "date":
      return prepareDate(field, raw);
    case "select":
    case "relation":
      return prepareChoice(field, raw);
    case "json":
      return prepareJson(field, raw);
    case "autodate":
      return ok("");
  }
}

function parseJsonText(value: unknown, fallback: unknown): unknown {
  if (typeof value !== "string") return value ?? fallback;
  try {
    return JSON.parse(value);
  } catch {
    return fallback;
  }
}

export type Reader = (stored: unknown) => unknown;

const readBool: Reader = (v) => v === 1 || v === true || v === "1";
const readNumber: Reader = (v) => (v === null || v === undefined ? 0 : Number(v));
const readText: Reader = (v) => (v === null || v === undefined ? "" : v);
const readList: Reader = (v) => parseJsonText(v, []);
const readJson: Reader = (v) => (v === null || v === undefined ? null : parseJsonText(v, null));

/** How a stored value becomes the API's value. */
export function readerOf(field: FieldDefinition | { type: "bool" | "text" }): Reader {
  switch (field.type) {
    case "bool":
      return readBool;
    case "number":
      return readNumber;
    case "json":
      return readJson;
    case "select":
    case "relation":
      return isMultiple(field as FieldDefinition) ? readList : readText;
    default:
      return readText;
  }
}

/** The API value a field has when a record leaves it empty. */
export function zeroValue(field: FieldDefinition): unknown {
  switch (field.type) {
    case "number":
      return 0;
    case "bool":
      return false;
    case "json":
      return null;
    case "select":
    case "relation":
      return isMultiple(field) ? [] : "";
    default:
      return "";
  }
}
