import { describe, expect, it } from "vitest";
import type { FieldDefinition } from "../../src/collections/definition.js";
import { prepareValue, readerOf, zeroValue } from "../../src/collections/fields.js";
import {
  formatDate,
  isRecordId,
  newCollectionId,
  newRecordId,
  parseDate,
} from "../../src/collections/ids.js";
import { hashPassword, verifyPassword } from "../../src/collections/passwords.js";

const field = (
  type: FieldDefinition["type"],
  options: Partial<FieldDefinition> = {},
): FieldDefinition => ({
  id: `${type}1`,
  name: type,
  type,
  required: false,
  hidden: false,
  unique: false,
  ...options,
});

const value = (f: FieldDefinition, raw: unknown) => {
  const prepared = prepareValue(f, raw);
  if (!prepared.ok) throw new Error(`expected ok, got ${prepared.error.code}`);
  return prepared.value;
};
const code = (f: FieldDefinition, raw: unknown) => {
  const prepared = prepareValue(f, raw);
  return prepared.ok ? "ok" : prepared.error.code;
};

describe("ids and dates", () => {
  it("makes PocketBase ids", () => {
    const ids = new Set(Array.from({ length: 1000 }, newRecordId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(isRecordId(id)).toBe(true);
    expect(isRecordId("ABCDEFGHIJKLMNO")).toBe(false);
    expect(isRecordId("abc")).toBe(false);
    expect(newCollectionId()).toMatch(/^pbc_\d{10}$/);
  });

  it("formats and parses dates as PocketBase does", () => {
    expect(formatDate(new Date(Date.UTC(2024, 4, 1, 10, 20, 30, 5)))).toBe(
      "2024-05-01 10:20:30.005Z",
    );
    expect(parseDate("2024-05-01")).toBe("2024-05-01 00:00:00.000Z");
    expect(parseDate("2024-05-01 10:20:30Z")).toBe("2024-05-01 10:20:30.000Z");
    expect(parseDate("2024-05-01 10:20:30.123Z")).toBe("2024-05-01 10:20:30.123Z");
    expect(parseDate("2024-05-01T12:20:30+02:00")).toBe("2024-05-01 10:20:30.000Z");
    expect(parseDate("2024-05-01 10:20")).toBe("2024-05-01 10:20:00.000Z");
    for (const bad of ["", "yesterday", "2024-13-45", "12:00", "1714558830"]) {
      expect(parseDate(bad), bad).toBeUndefined();
    }
  });
});

describe("field values", () => {
  it("text: zero value, length in characters, pattern, default max", () => {
    const text = field("text", { min: 2, max: 4, pattern: "^[a-zé😀]+$" });
    expect(value(text, undefined)).toBe("");
    expect(value(text, "éé")).toBe("éé");
    expect(value(text, "😀😀😀😀")).toBe("😀😀😀😀");
    expect(code(text, "a")).toBe("validation_min_text_constraint");
    expect(code(text, "abcde")).toBe("validation_max_text_constraint");
    expect(code(text, "AB")).toBe("validation_invalid_format");
    expect(code(text, { a: 1 })).toBe("validation_invalid_value");
    expect(value(field("text"), 12)).toBe("12");
    expect(code(field("text"), "x".repeat(5001))).toBe("validation_max_text_constraint");
    expect(code(field("text", { required: true }), "")).toBe("validation_required");
  });

  it("number: numeric text, bounds, integers, required means non-zero", () => {
    const n = field("number", { min: -1, max: 10, onlyInt: true });
    expect(value(n, "7")).toBe(7);
    expect(value(n, null)).toBe(0);
    expect(code(n, 11)).toBe("validation_max_number_constraint");
    expect(code(n, -2)).toBe("validation_min_number_constraint");
    expect(code(n, 1.5)).toBe("validation_only_int_constraint");
    expect(code(n, "abc")).toBe("validation_not_a_number");
    expect(code(n, Number.NaN)).toBe("validation_not_a_number");
    expect(code(field("number", { required: true }), 0)).toBe("validation_required");
  });

  it("bool, email, url, date", () => {
    expect(value(field("bool"), "true")).toBe(true);
    expect(value(field("bool"), 0)).toBe(false);
    expect(code(field("bool"), "yes")).toBe("validation_invalid_value");
    expect(code(field("bool", { required: true }), false)).toBe("validation_required");
    expect(value(field("email"), "a@b.io")).toBe("a@b.io");
    expect(code(field("email"), "a@b")).toBe("validation_is_email");
    expect(code(field("email", { onlyDomains: ["acme.io"] }), "a@b.io")).toBe(
      "validation_email_domain_not_allowed",
    );
    expect(value(field("url"), "https://x.io/a?b=1")).toBe("https://x.io/a?b=1");
    expect(code(field("url"), "javascript:alert(1)")).toBe("validation_invalid_url");
    expect(code(field("url", { exceptDomains: ["x.io"] }), "https://x.io")).toBe(
      "validation_url_domain_not_allowed",
    );
    const date = field("date", { min: "2024-01-01 00:00:00.000Z" });
    expect(value(date, "2024-05-01")).toBe("2024-05-01 00:00:00.000Z");
    expect(code(date, "2023-12-31")).toBe("validation_min_greater_equal_than_required");
    expect(code(date, 5)).toBe("validation_invalid_date");
  });

  it("select and relation: single keeps the last value, multiple stores JSON", () => {
    const single = field("select", { values: ["a", "b"], maxSelect: 1 });
    expect(value(single, ["a", "b"])).toBe("b");
    expect(value(single, "")).toBe("");
    expect(code(single, "c")).toBe("validation_invalid_value");
    const multi = field("select", { values: ["a", "b", "c"], maxSelect: 2 });
    expect(value(multi, ["a", "a", "b"])).toBe('["a","b"]');
    expect(value(multi, "c")).toBe('["c"]');
    expect(value(multi, null)).toBe("[]");
    expect(code(multi, ["a", "b", "c"])).toBe("validation_too_many_values");
    expect(code(multi, [1])).toBe("validation_invalid_value");
    const rel = field("relation", { collectionId: "pbc_1", maxSelect: 3, minSelect: 2 });
    expect(code(rel, ["abcdefghij12345"])).toBe("validation_not_enough_values");
    expect(code(rel, ["abcdefghij12345", "../etc/passwd00"])).toBe(
      "validation_missing_rel_records",
    );
  });

  it("json: any JSON value, NULL when absent, size limit", () => {
    const json = field("json", { maxSize: 20 });
    expect(value(json, { a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(value(json, undefined)).toBeNull();
    expect(value(json, "text")).toBe('"text"');
    expect(code(json, "x".repeat(30))).toBe("validation_json_size_limit");
    expect(code(field("json", { required: true }), {})).toBe("validation_required");
  });

  it("reads stored values back as the API shows them", () => {
    expect(readerOf(field("bool"))(1)).toBe(true);
    expect(readerOf(field("number"))(null)).toBe(0);
    expect(readerOf(field("json"))('{"a":1}')).toEqual({ a: 1 });
    expect(readerOf(field("json"))(null)).toBeNull();
    expect(readerOf(field("select", { maxSelect: 2 }))('["a"]')).toEqual(["a"]);
    expect(readerOf(field("select", { maxSelect: 2 }))("not json")).toEqual([]);
    expect(zeroValue(field("relation", { maxSelect: 2 }))).toEqual([]);
    expect(zeroValue(field("date"))).toBe("");
  });
});

describe("passwords", () => {
  it("hashes with a salt and verifies in constant time", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct horsE", a)).toBe(false);
    expect(await verifyPassword("x", undefined)).toBe(false);
    expect(await verifyPassword("x", "garbage")).toBe(false);
  });
});
