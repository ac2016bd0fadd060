/**
 * What one HTTP load run asks for, and the request each plan sends: shared
 * by the load generator (a child process) and the tests. Pure.
 */
import { mulberry32, ZipfSampler } from "./stats.js";

export interface LoadPlan {
  url: string;
  /** "read": GET one record by id; "write": POST a new record; "action": POST /api/actions/:name. */
  kind: "read" | "write" | "action";
  /** For kind "action": the action and its JSON input. */
  action?: { name: string; input: unknown };
  /** "per-tenant": x-dbname names the Zipf-chosen tenant; "shared": one database, tenant in a column. */
  layout: "per-tenant" | "shared";
  tenants: number;
  rowsPerTenant: number;
  zipfS: number;
  seed: number;
  durationSeconds: number;
  connections: number;
  adminToken: string;
  collection: string;
  /** The database every request names in the shared layout. */
  sharedKey?: string;
  /**
   * Shared layout only: name `${sharedKey}-0` .. `${sharedKey}-(n-1)` in turn
   * instead of `sharedKey`, keys a server maps to the same shared storage, so
   * its per-key operation queue does not serialise the baseline (postgres).
   */
  sharedAliases?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
  total: number;
  non2xx: number;
  errors: number;
}

export interface PlannedRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Tenant `t`'s j-th record (1-based): 15 characters of [a-z0-9], unique over all tenants. */
export function recordId(tenant: number, j: number): string {
  return `${String(tenant).padStart(9, "0")}r${String(j).padStart(5, "0")}`;
}

export function benchTenantKey(tenant: number): string {
  return `tenant-${tenant}`;
}

/** A generator of the plan's requests: Zipf over tenants, uniform over a tenant's records. */
export function requestGenerator(plan: LoadPlan): () => PlannedRequest {
  const zipf = new ZipfSampler(plan.tenants, plan.zipfS, mulberry32(plan.seed));
  const random = mulberry32(plan.seed + 1);
  const base = `/api/collections/${plan.collection}/records`;
  const auth = `Bearer ${plan.adminToken}`;
  let counter = 0;
  let alias = 0;
  const sharedKey = (): string => {
    const key = plan.sharedKey ?? "shared";
    if (!plan.sharedAliases) return key;
    return `${key}-${alias++ % plan.sharedAliases}`;
  };
  return () => {
    const tenant = zipf.next();
    const key = plan.layout === "shared" ? sharedKey() : benchTenantKey(tenant);
    const headers: Record<string, string> = { authorization: auth, "x-dbname": key };
    if (plan.kind === "read") {
      const j = 1 + Math.floor(random() * plan.rowsPerTenant);
      return { method: "GET", path: `${base}/${recordId(tenant, j)}`, headers };
    }
    if (plan.kind === "action") {
      headers["content-type"] = "application/json";
      const action = plan.action ?? { name: "", input: null };
      return {
        method: "POST",
        path: `/api/actions/${encodeURIComponent(action.name)}`,
        headers,
        body: JSON.stringify(action.input),
      };
    }
    counter++;
    const record: Record<string, unknown> = {
      title: `post ${counter}`,
      body: "written by the benchmark",
      views: counter % 1000,
    };
    if (plan.layout === "shared") record.org = benchTenantKey(tenant);
    headers["content-type"] = "application/json";
    return { method: "POST", path: base, headers, body: JSON.stringify(record) };
  };
}
