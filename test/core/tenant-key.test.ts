import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createTenantbase,
  InvalidTenantKey,
  MAX_TENANT_KEY_BYTES,
  sqlite,
  storageName,
  tenantKeyFromStorageName,
  validateTenantKey,
} from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";

const SAFE_NAME = /^[a-z0-9_-]+$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** Strings that are valid keys: 1–128 bytes, no control characters, NFC. */
const validKey = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 64 })
  .map((s) => s.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f]/g, "x"))
  .filter((s) => s.length > 0 && Buffer.byteLength(s) <= MAX_TENANT_KEY_BYTES);

const hostileKeys = [
  "../x",
  "..",
  ".",
  "/",
  "\\",
  "a/b",
  "a\\b",
  "../../etc/passwd",
  "con",
  "CON",
  "aux",
  "nul",
  "com1",
  "lpt1.txt",
  "default.db",
  "catalog",
  "catalog.db",
  "Acme",
  "acme",
  "ACME",
  "t-acme",
  "x-abc",
  "_41cme",
  " leading space",
  "trailing space ",
  "😀".repeat(32), // 128 bytes
  "é", // precomposed (NFC)
  "'; DROP TABLE tenants; --",
  '"quoted"',
  "%2e%2e%2f",
  "\u202eevil",
  "a".repeat(128),
];

describe("validateTenantKey", () => {
  it("accepts keys of 1 to 128 bytes", () => {
    expect(validateTenantKey("a")).toBe("a");
    expect(validateTenantKey("a".repeat(128))).toBe("a".repeat(128));
    expect(validateTenantKey("😀".repeat(32))).toBe("😀".repeat(32));
  });

  it.each([
    ["empty", ""],
    ["129 bytes", "a".repeat(129)],
    ["129 bytes of emoji and ascii", `${"😀".repeat(32)}a`],
    ["10 kB", "x".repeat(10_000)],
    ["NUL", "a\0b"],
    ["newline", "a\nb"],
    ["DEL", "a\u007fb"],
    ["C1 control", "a\u0085b"],
    ["lone surrogate", "a\ud800b"],
    ["not NFC", "e\u0301"],
  ])("rejects %s", (_name, key) => {
    expect(() => validateTenantKey(key)).toThrow(InvalidTenantKey);
  });

  it("rejects non-strings", () => {
    for (const key of [undefined, null, 1, {}, ["a"], Symbol("a")]) {
      expect(() => validateTenantKey(key)).toThrow(InvalidTenantKey);
    }
  });
});

describe("storageName", () => {
  it("is injective and invertible on random keys", () => {
    fc.assert(
      fc.property(validKey, (key) => {
        const name = storageName(key);
        expect(name).toMatch(SAFE_NAME);
        expect(name.length).toBeLessThanOrEqual(220);
        expect(name).not.toMatch(WINDOWS_RESERVED);
        expect(tenantKeyFromStorageName(name)).toBe(key);
      }),
      { numRuns: 3000 },
    );
  });

  it("never maps two different keys to one name", () => {
    fc.assert(
      fc.property(validKey, validKey, (a, b) => {
        if (a !== b) expect(storageName(a)).not.toBe(storageName(b));
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps case-only differences apart with lower-case names", () => {
    const names = new Set(["Acme", "acme", "ACME", "aCmE"].map(storageName));
    expect(names.size).toBe(4);
    for (const name of names) expect(name).toBe(name.toLowerCase());
  });

  it("gives hostile keys safe, distinct names", () => {
    const names = hostileKeys.map(storageName);
    expect(new Set(names).size).toBe(hostileKeys.length);
    for (const name of names) {
      expect(name).toMatch(SAFE_NAME);
      expect(name).not.toMatch(WINDOWS_RESERVED);
      expect(name.includes("..")).toBe(false);
    }
    expect(storageName("acme")).toBe("t-acme");
  });

  it("rejects names it could not have produced", () => {
    for (const name of ["acme", "t-A", "t-_61", "t-_zz", "x-1", "x-ab", "../x", "t-.."]) {
      expect(() => tenantKeyFromStorageName(name)).toThrow(InvalidTenantKey);
    }
  });
});

function listTree(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...listTree(path));
  }
  return out;
}

describe("hostile keys on a real data directory", () => {
  it("each gets its own database inside the data dir, or a clear error", async () => {
    const root = tempDir();
    const dir = join(root, "data");
    const hub = createTenantbase({
      driver: sqlite({ dir }),
      migrations: [
        {
          name: "0001_notes",
          async up(db) {
            await db.schema.createTable("notes").addColumn("body", "text").execute();
          },
        },
      ],
    });
    const random = fc.sample(validKey, 200);
    const keys = [...new Set([...hostileKeys, ...random])];
    for (const key of keys) {
      await hub.tenants.create(key);
      const handle = await hub.tenant(key);
      await handle.db.insertInto("notes").values({ body: key }).execute();
    }
    for (const key of keys) {
      const handle = await hub.tenant(key);
      const rows = await handle.db.selectFrom("notes").select("body").execute();
      expect(rows).toEqual([{ body: key }]);
    }
    for (const bad of ["", "a\0b", "x".repeat(10_000), "e\u0301", "a\nb"]) {
      await expect(hub.tenants.create(bad)).rejects.toThrow(InvalidTenantKey);
      await expect(hub.tenant(bad)).rejects.toThrow(InvalidTenantKey);
    }
    await hub.close();

    // Nothing was written outside the data dir, and every tenant file is named by the encoding.
    expect(readdirSync(root)).toEqual(["data"]);
    const tenantFiles = readdirSync(join(dir, "tenants")).filter((f) => f.endsWith(".db"));
    expect(tenantFiles.sort()).toEqual(keys.map((k) => `${storageName(k)}.db`).sort());
    for (const path of listTree(dir)) {
      expect(path.startsWith(dir)).toBe(true);
    }
  });
});
