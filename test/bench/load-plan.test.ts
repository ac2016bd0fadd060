import { describe, expect, it } from "vitest";
import { type LoadPlan, requestGenerator } from "../../bench/lib/load-plan.js";

const base: LoadPlan = {
  url: "http://127.0.0.1:1",
  kind: "read",
  layout: "shared",
  tenants: 10,
  rowsPerTenant: 5,
  zipfS: 1.1,
  seed: 7,
  durationSeconds: 1,
  connections: 1,
  adminToken: "token",
  collection: "posts",
  sharedKey: "shared",
};

describe("requestGenerator, shared layout", () => {
  it("names the shared key on every request by default", () => {
    const next = requestGenerator(base);
    for (let i = 0; i < 5; i++) expect(next().headers["x-dbname"]).toBe("shared");
  });

  it("cycles through the aliases when sharedAliases is set", () => {
    const next = requestGenerator({ ...base, sharedAliases: 3 });
    const keys = Array.from({ length: 7 }, () => next().headers["x-dbname"]);
    expect(keys).toEqual([
      "shared-0",
      "shared-1",
      "shared-2",
      "shared-0",
      "shared-1",
      "shared-2",
      "shared-0",
    ]);
  });

  it("picks the same records with or without aliases", () => {
    const plain = requestGenerator({ ...base, kind: "write" });
    const aliased = requestGenerator({ ...base, kind: "write", sharedAliases: 4 });
    for (let i = 0; i < 20; i++) {
      const a = plain();
      const b = aliased();
      expect(b.path).toBe(a.path);
      expect(b.body).toBe(a.body);
    }
  });

  it("ignores sharedAliases in the per-tenant layout", () => {
    const next = requestGenerator({ ...base, layout: "per-tenant", sharedAliases: 3 });
    for (let i = 0; i < 10; i++) expect(next().headers["x-dbname"]).toMatch(/^tenant-\d$/);
  });
});
