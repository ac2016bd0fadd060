import { describe, expect, it } from "vitest";
import { benchTenantKey, recordId, requestGenerator } from "../../bench/lib/load-plan.js";
import { interleave, median, mulberry32, percentile, ZipfSampler } from "../../bench/lib/stats.js";

describe("mulberry32", () => {
  it("is deterministic per seed and stays in [0, 1)", () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const c = mulberry32(2);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    for (const x of xs) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });
});

describe("ZipfSampler", () => {
  it("has probabilities proportional to 1/(k+1)^s that sum to 1", () => {
    const zipf = new ZipfSampler(100, 1.1);
    let total = 0;
    for (let k = 0; k < 100; k++) total += zipf.probability(k);
    expect(total).toBeCloseTo(1, 10);
    expect(zipf.probability(0) / zipf.probability(1)).toBeCloseTo(2 ** 1.1, 8);
    expect(zipf.probability(9) / zipf.probability(99)).toBeCloseTo(10 ** 1.1, 6);
    expect(zipf.probability(-1)).toBe(0);
    expect(zipf.probability(100)).toBe(0);
  });

  it("samples ranks in range with the expected frequencies", () => {
    const zipf = new ZipfSampler(1000, 1.1, mulberry32(3));
    const samples = zipf.sample(200_000);
    const counts = new Map<number, number>();
    let outOfRange = 0;
    for (const rank of samples) {
      if (rank >= 1000) outOfRange++;
      counts.set(rank, (counts.get(rank) ?? 0) + 1);
    }
    expect(outOfRange).toBe(0);
    for (const k of [0, 1, 9]) {
      expect((counts.get(k) ?? 0) / samples.length).toBeCloseTo(zipf.probability(k), 2);
    }
    // The hot head: rank 0 is sampled more than rank 100.
    expect(counts.get(0)!).toBeGreaterThan((counts.get(100) ?? 0) * 50);
  });

  it("is uniform with s = 0 and rejects bad arguments", () => {
    const zipf = new ZipfSampler(4, 0);
    for (let k = 0; k < 4; k++) expect(zipf.probability(k)).toBeCloseTo(0.25, 12);
    expect(() => new ZipfSampler(0, 1)).toThrow(RangeError);
    expect(() => new ZipfSampler(1.5, 1)).toThrow(RangeError);
    expect(() => new ZipfSampler(10, -1)).toThrow(RangeError);
    expect(new ZipfSampler(1, 1.1).next()).toBe(0);
  });
});

describe("percentile and median", () => {
  it("interpolates between closest ranks", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([4, 1, 3, 2], 0)).toBe(1);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
    expect(percentile([10], 99)).toBe(10);
    const hundred = Array.from({ length: 101 }, (_, i) => i);
    expect(percentile(hundred, 99)).toBe(99);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it("does not reorder its input and rejects p outside 0-100", () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
    expect(() => percentile(values, 101)).toThrow(RangeError);
    expect(() => percentile(values, -1)).toThrow(RangeError);
  });
});

describe("interleave", () => {
  it("alternates which side runs first, round by round", async () => {
    const order: string[] = [];
    const results = await interleave(
      3,
      async (round) => {
        order.push(`a${round}`);
        return round;
      },
      async (round) => {
        order.push(`b${round}`);
        return -round;
      },
    );
    expect(order).toEqual(["a0", "b0", "b1", "a1", "a2", "b2"]);
    expect(results).toEqual([
      { a: 0, b: -0 },
      { a: 1, b: -1 },
      { a: 2, b: -2 },
    ]);
  });
});

describe("load plans", () => {
  it("makes record ids of 15 characters, unique over tenants", () => {
    const ids = new Set<string>();
    for (const t of [0, 1, 9999, 123_456_789]) {
      for (const j of [1, 100]) {
        const id = recordId(t, j);
        expect(id).toMatch(/^[a-z0-9]{15}$/);
        ids.add(id);
      }
    }
    expect(ids.size).toBe(8);
  });

  const plan = {
    url: "http://127.0.0.1:1",
    tenants: 50,
    rowsPerTenant: 100,
    zipfS: 1.1,
    seed: 9,
    durationSeconds: 1,
    connections: 1,
    adminToken: "token",
    collection: "posts",
  };

  it("reads name the tenant per request, or the shared database", () => {
    const perTenant = requestGenerator({ ...plan, kind: "read", layout: "per-tenant" });
    const shared = requestGenerator({ ...plan, kind: "read", layout: "shared", sharedKey: "all" });
    for (let i = 0; i < 100; i++) {
      const a = perTenant();
      const b = shared();
      expect(a.method).toBe("GET");
      expect(a.headers.authorization).toBe("Bearer token");
      const tenant = Number(a.headers["x-dbname"]!.slice("tenant-".length));
      expect(a.headers["x-dbname"]).toBe(benchTenantKey(tenant));
      expect(a.path).toMatch(/^\/api\/collections\/posts\/records\/[0-9]{9}r[0-9]{5}$/);
      expect(a.path.slice(-15, -6)).toBe(String(tenant).padStart(9, "0"));
      // Same seed, same sequence of records in both layouts.
      expect(b.path).toBe(a.path);
      expect(b.headers["x-dbname"]).toBe("all");
    }
  });

  it("writes carry the tenant column only in the shared layout", () => {
    const perTenant = requestGenerator({ ...plan, kind: "write", layout: "per-tenant" })();
    const shared = requestGenerator({ ...plan, kind: "write", layout: "shared" })();
    expect(perTenant.method).toBe("POST");
    expect(perTenant.path).toBe("/api/collections/posts/records");
    expect(JSON.parse(perTenant.body!)).not.toHaveProperty("org");
    expect(JSON.parse(shared.body!).org).toBe(perTenant.headers["x-dbname"]);
    expect(shared.headers["x-dbname"]).toBe("shared");
    expect(shared.headers["content-type"]).toBe("application/json");
  });
});

describe("action plans", () => {
  it("post the action's input to /api/actions/:name on the Zipf-chosen tenant", () => {
    const next = requestGenerator({
      url: "http://127.0.0.1:1",
      tenants: 10,
      rowsPerTenant: 1,
      zipfS: 1.1,
      seed: 1,
      durationSeconds: 1,
      connections: 1,
      adminToken: "t",
      collection: "posts",
      kind: "action",
      layout: "per-tenant",
      action: { name: "addEmployee", input: { name: "Ada", role: "Engineer" } },
    });
    const request = next();
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/api/actions/addEmployee");
    expect(JSON.parse(request.body!)).toEqual({ name: "Ada", role: "Engineer" });
    expect(request.headers["x-dbname"]).toMatch(/^tenant-\d$/);
  });
});
