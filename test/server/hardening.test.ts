import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HubClosed } from "../../src/index.js";
import {
  apiClient,
  type Call,
  expectErrorShape,
  startTestServer,
  type TestServer,
} from "./helpers.js";

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = apiClient(server);
});
afterAll(() => server.stop());

describe("service endpoints", () => {
  it("answers GET /api/health without credentials", async () => {
    const res = await call("GET", "/api/health", { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ code: 200, message: "API is healthy.", data: {} });
  });

  it("serves an OpenAPI document of the API", async () => {
    const res = await call("GET", "/api/docs", { token: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    for (const path of [
      "/api/databases",
      "/api/databases/{name}",
      "/api/collections",
      "/api/collections/{collection}",
      "/api/collections/{collection}/records",
      "/api/collections/{collection}/records/{id}",
      "/api/collections/{collection}/auth-with-password",
      "/api/collections/{collection}/auth-refresh",
      "/api/actions/{name}",
      "/api/realtime",
      "/api/signup",
    ]) {
      expect(res.body.paths[path], path).toBeDefined();
    }
    const schemas = res.body.components.schemas;
    expect(schemas.RecordList.properties.items.items.$ref).toBe("#/components/schemas/Record");
    expect(schemas.CollectionCreate.properties.fields).toBeDefined();
    expect(Object.keys(schemas.Signup.properties)).toEqual(
      expect.arrayContaining(["tenant", "email", "password"]),
    );
    expect(schemas.ApiError.required).toEqual(
      expect.arrayContaining(["status", "message", "data"]),
    );
  });

  it("answers CORS preflights (any origin by default)", async () => {
    const res = await fetch(`${server.url}/api/collections/posts/records`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "PATCH",
        "access-control-request-headers": "authorization,x-dbname,content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-dbname");
  });
});

describe("configuration", () => {
  it("limits CORS to configured origins and logs each request with its time", async () => {
    const lines: any[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const custom = await startTestServer({
      cors: ["https://app.example"],
      logger: pino({ level: "info" }, sink),
    });
    try {
      const allowed = await fetch(`${custom.url}/api/health`, {
        headers: { origin: "https://app.example" },
      });
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example");
      const other = await fetch(`${custom.url}/api/health`, {
        headers: { origin: "https://evil.example" },
      });
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
      await apiClient(custom)("POST", "/api/databases", { body: { name: "logged" } });
      const requests = lines.filter((line) => line.msg === "request");
      expect(requests.length).toBeGreaterThanOrEqual(3);
      const create = requests.find((line) => line.method === "POST");
      expect(create).toMatchObject({ path: "/api/databases", status: 200 });
      expect(typeof create.ms).toBe("number");
    } finally {
      await custom.stop();
    }
  });
});

describe("tenant states", () => {
  it("answers 403 for a suspended tenant and 503 for one whose migration failed", async () => {
    await call("POST", "/api/databases", { body: { name: "a-first" } });
    await call("POST", "/api/databases", { body: { name: "b-broken" } });
    await call("POST", "/api/databases", { body: { name: "c-suspended" } });
    await server.hub.tenants.suspend("c-suspended");
    const suspended = await call("GET", "/api/collections/widgets/records", {
      tenant: "c-suspended",
    });
    expect([403, 404]).toContain(suspended.status);
    await call("POST", "/api/collections", {
      body: { name: "things", fields: [{ name: "a", type: "text" }] },
    });
    const blocked = await call("GET", "/api/collections/things/records", { tenant: "c-suspended" });
    expect(blocked.status).toBe(403);
    expectErrorShape(blocked.body, 403);

    // A table the collection migration will collide with, in one tenant only.
    const broken = await server.hub.tenant("b-broken");
    await broken.db.schema.createTable("widgets").addColumn("x", "text").execute();
    const created = await call("POST", "/api/collections", { body: { name: "widgets" } });
    expect(created.status).toBe(200);
    const failed = await call("GET", "/api/collections/widgets/records", { tenant: "b-broken" });
    expect(failed.status).toBe(503);
    expectErrorShape(failed.body, 503);
    // Nothing half-applied: the tenant is still on its old schema and the others are fine.
    expect(
      (await call("GET", "/api/collections/widgets/records", { tenant: "a-first" })).status,
    ).toBe(200);
    const info = (await call("GET", "/api/databases")).body.find((d: any) => d.name === "b-broken");
    expect(info.status).toBe("failed");
  });
});

describe("shutdown", () => {
  it("finishes in-flight requests, then closes every tenant", async () => {
    const own = await startTestServer({ closeHub: true });
    const ownCall = apiClient(own);
    await ownCall("POST", "/api/databases", { body: { name: "busy" } });
    await ownCall("POST", "/api/collections", {
      body: { name: "items", fields: [{ name: "a", type: "text" }] },
    });
    let release!: () => void;
    const held = own.hub.exclusive(
      "busy",
      () => new Promise<void>((resolve) => (release = resolve)),
    );
    const arrived = new Promise<void>((resolve) => own.httpServer.once("request", () => resolve()));
    const inflight = ownCall("POST", "/api/collections/items/records", {
      tenant: "busy",
      body: { a: "late" },
    });
    await arrived;
    const closing = own.close();
    release();
    await held;
    const response = await inflight;
    expect(response.status).toBe(200);
    await closing;
    await expect(own.hub.tenant("busy")).rejects.toThrow(HubClosed);
    const refused = await fetch(`${own.url}/api/health`).catch((error) => error);
    expect(refused).toBeInstanceOf(Error);
    await own.stop();
  });
});
