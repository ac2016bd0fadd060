/**
 * Identifiers and timestamps the way PocketBase makes them: record ids of 15
 * characters from [a-z0-9], dates as "YYYY-MM-DD HH:MM:SS.sssZ" (UTC).
 */
import { randomBytes } from "node:crypto";

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
export const RECORD_ID_LENGTH = 15;
export const RECORD_ID_PATTERN = /^[a-z0-9]{15}$/;

// Bytes of 252 and above are dropped so every character is equally likely (252 = 7 × 36).
const UNBIASED_LIMIT = 252;

function randomFrom(alphabet: string, length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_LIMIT) continue;
      out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export function newRecordId(): string {
  return randomFrom(ID_ALPHABET, RECORD_ID_LENGTH);
}

export function isRecordId(value: unknown): value is string {
  return typeof value === "string" && RECORD_ID_PATTERN.test(value);
}

/** Collection ids look like PocketBase's: "pbc_" and ten digits. */
export function newCollectionId(): string {
  return `pbc_${randomFrom("0123456789", 10)}`;
}

export function newFieldId(type: string): string {
  return `${type}${randomFrom("0123456789", 10)}`;
}

/** A random secret for a record (its token key), URL-safe. */
export function newSecret(bytes = 24): string {
  return randomBytes(bytes).toString("base64url");
}

/** PocketBase's date format: "2024-05-01 12:30:00.123Z". */
export function formatDate(date: Date): string {
  return date.toISOString().replace("T", " ");
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const SPACE_SEPARATED = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})/;

/**
 * Parses the date forms clients send ("2024-05-01", "2024-05-01 12:30:00Z",
 * ISO 8601, with or without milliseconds or zone; no zone means UTC) into
 * PocketBase's format. Returns undefined when it is not a date.
 */
export function parseDate(value: string): string | undefined {
  let text = value.trim();
  if (text.length === 0 || text.length > 40) return undefined;
  if (DATE_ONLY.test(text)) text += "T00:00:00Z";
  else text = text.replace(SPACE_SEPARATED, "$1T$2");
  // Without a zone, Date would read local time; PocketBase dates are UTC.
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)) text += "Z";
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const time = Date.parse(text);
  if (Number.isNaN(time)) return undefined;
  return formatDate(new Date(time));
}
