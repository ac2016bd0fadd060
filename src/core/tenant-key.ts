/**
 * Tenant keys are values chosen by users ("Acme Co", a UUID, an emoji name).
 * They never reach a path, a file name or an SQL identifier as they are: the
 * one way from a key to storage is `storageName(key)`, an injective encoding
 * whose output uses only `[a-z0-9_-]`, so it is safe as a file name on every
 * file system (including case-insensitive ones and Windows' reserved names),
 * and as a quoted SQL identifier.
 */
import { base32Decode, base32Encode } from "../tools/base32.js";
import { InvalidTenantKey } from "./errors.js";

export const MAX_TENANT_KEY_BYTES = 128;

// C0 controls, DEL and C1 controls.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns the key unchanged when valid, throws `InvalidTenantKey` otherwise. */
export function validateTenantKey(key: unknown): string {
  if (typeof key !== "string") throw new InvalidTenantKey("it must be a string");
  if (key.length === 0) throw new InvalidTenantKey("it must not be empty");
  // A cheap upper bound first, so a 10 MB string is rejected without encoding it.
  if (key.length > MAX_TENANT_KEY_BYTES || Buffer.byteLength(key, "utf8") > MAX_TENANT_KEY_BYTES) {
    throw new InvalidTenantKey(`it must be at most ${MAX_TENANT_KEY_BYTES} bytes of UTF-8`);
  }
  if (!key.isWellFormed()) throw new InvalidTenantKey("it must be well-formed Unicode");
  if (CONTROL_CHARS.test(key)) throw new InvalidTenantKey("it must not contain control characters");
  if (key.normalize("NFC") !== key) {
    throw new InvalidTenantKey("it must be in Unicode normalization form NFC");
  }
  return key;
}

export function isValidTenantKey(key: unknown): key is string {
  try {
    validateTenantKey(key);
    return true;
  } catch {
    return false;
  }
}

// Readable names are kept when short enough; longer ones fall back to base32,
// so a name never exceeds ~210 characters (file names allow 255 bytes).
const READABLE_PREFIX = "t-";
const BASE32_PREFIX = "x-";
const MAX_READABLE_LENGTH = 180;
const HEX = "0123456789abcdef";

function isLiteralByte(byte: number): boolean {
  // a-z, 0-9 and '-' stand for themselves; everything else (upper case
  // included, for case-insensitive file systems) is escaped as _hh.
  return (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x2d;
}

/**
 * The storage name of a tenant key: injective (two different keys never share
 * one) and made only of `[a-z0-9_-]`. "acme" → "t-acme", "Acme Co" →
 * "t-_41cme_20_43o"; long non-ASCII keys → "x-<base32>".
 */
export function storageName(key: string): string {
  const bytes = Buffer.from(validateTenantKey(key), "utf8");
  let readable = READABLE_PREFIX;
  for (const byte of bytes) {
    if (isLiteralByte(byte)) readable += String.fromCharCode(byte);
    else readable += `_${HEX[byte >> 4]}${HEX[byte & 15]}`;
    if (readable.length > MAX_READABLE_LENGTH + READABLE_PREFIX.length) {
      return BASE32_PREFIX + base32Encode(bytes);
    }
  }
  return readable;
}

/** The inverse of `storageName`; throws on anything it could not have produced. */
export function tenantKeyFromStorageName(name: string): string {
  let bytes: Uint8Array;
  if (name.startsWith(READABLE_PREFIX)) {
    const out: number[] = [];
    const body = name.slice(READABLE_PREFIX.length);
    for (let i = 0; i < body.length; i++) {
      const ch = body.charCodeAt(i);
      if (ch === 0x5f) {
        const hex = body.slice(i + 1, i + 3);
        if (!/^[0-9a-f]{2}$/.test(hex)) throw new InvalidTenantKey("malformed storage name");
        const byte = Number.parseInt(hex, 16);
        if (isLiteralByte(byte)) throw new InvalidTenantKey("malformed storage name");
        out.push(byte);
        i += 2;
      } else if (isLiteralByte(ch)) {
        out.push(ch);
      } else {
        throw new InvalidTenantKey("malformed storage name");
      }
    }
    if (name.length > MAX_READABLE_LENGTH + READABLE_PREFIX.length) {
      throw new InvalidTenantKey("malformed storage name");
    }
    bytes = Uint8Array.from(out);
  } else if (name.startsWith(BASE32_PREFIX)) {
    const decoded = base32Decode(name.slice(BASE32_PREFIX.length));
    if (!decoded) throw new InvalidTenantKey("malformed storage name");
    bytes = decoded;
  } else {
    throw new InvalidTenantKey("malformed storage name");
  }
  const key = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  validateTenantKey(key);
  if (storageName(key) !== name) throw new InvalidTenantKey("malformed storage name");
  return key;
}
