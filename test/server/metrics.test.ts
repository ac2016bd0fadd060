import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  type Call,
  postsCollection,
  startTestServer,
  type TestServer,
} from "./helpers.js";

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = apiClient(server);
  await call("POST", "/api/databases", { body: { name: "Secret Corp" } });
  await call("POST", "/api/collections", { body: postsCollection });
});
afterAll(() => server.stop());

describe("GET /api/metrics", () => {
  it("is for the superuser only", async () => {
    expect((await call("GET", "/api/metrics", { token: null })).status).toBe(401);
    expect((await call("GET", "/api/metrics", { token: "forged" })).status).toBe(401);
  });

  it("counts requests per route pattern, never per tenant or id, with the pool and process", async () => {
    for (let i = 0; i < 3; i++) {
      await call("GET", "/api/collections/posts/records", { tenant: "Secret Corp" });
    }
    await call("GET", "/api/collections/posts/records/doesnotexist1", { tenant: "Secret Corp" });
    const res = await call<string>("GET", "/api/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = res.body;
    const count =
      /tenantbase_http_requests_total\{method="GET",route="\/api\/collections\/:collection\/records",status="200"\} (\d+)/.exec(
        text,
      );
    expect(Number(count?.[1])).toBe(3);
    expect(text).toContain('route="/api/collections/:collection/records/:id",status="404"');
    expect(text).toContain("tenantbase_http_request_duration_seconds_bucket");
    expect(text).not.toContain("Secret Corp");
    expect(text).not.toContain("doesnotexist1");
    expect(text).toMatch(/tenantbase_pool\{stat="open"\} [1-9]/);
    expect(text).toMatch(/tenantbase_pool\{stat="wakes"\} [1-9]/);
    expect(text).toContain("tenantbase_process_resident_memory_bytes");
  });
});
