import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { companyDefinition, membersCollection } from "../../examples/company/definition.js";
import { createTenantbase, sqlite, type Tenantbase } from "../../src/index.js";
import { type RunningServer, startServer } from "../../src/server/index.js";
import { ADMIN_TOKEN, apiClient, type Call, expectErrorShape, JWT_SECRET } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tenantbase-signup-"));
let hub: Tenantbase;
let server: RunningServer;
let call: Call;

beforeAll(async () => {
  const publicDir = join(dir, "public");
  // A stand-in web app: the test is about serving files, not building them.
  mkdirSync(publicDir, { recursive: true });
  writeFileSync(join(publicDir, "index.html"), "<!doctype html><title>app</title><p>the app</p>");
  writeFileSync(join(publicDir, "app.js"), "console.log('app')");
  hub = createTenantbase({ ...companyDefinition(), driver: sqlite({ dir: join(dir, "data") }) });
  server = await startServer({
    hub,
    port: 0,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
    collections: [membersCollection],
    signup: { collection: "members", role: "owner" },
    publicDir,
  });
  call = apiClient(server);
});

afterAll(async () => {
  await server.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("POST /api/signup", () => {
  it("creates the tenant and its owner, signed in, whose token then works on that tenant only", async () => {
    const res = await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Initech", email: "bill@initech.example", password: "password123" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      tenant: "Initech",
      record: { email: "bill@initech.example", role: "owner", collectionName: "members" },
    });
    expect(res.body.record.password).toBeUndefined();
    expect(res.body.record.tokenKey).toBeUndefined();
    const token = res.body.token as string;
    const added = await call("POST", "/api/actions/addEmployee", {
      token,
      body: { name: "Milton", role: "Collator" },
    });
    expect(added.status).toBe(200);
    const stats = await call("POST", "/api/actions/getStats", { token, tenant: "Initech" });
    expect(stats.body).toMatchObject({ employees: 1 });
    // Its token is for Initech only.
    await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Hooli", email: "gavin@hooli.example", password: "password123" },
    });
    const elsewhere = await call("POST", "/api/actions/getStats", { token, tenant: "Hooli" });
    expect(elsewhere.status).toBe(403);
    // And the owner signs in again with the password.
    const again = await call("POST", "/api/collections/members/auth-with-password", {
      token: null,
      tenant: "Initech",
      body: { identity: "bill@initech.example", password: "password123" },
    });
    expect(again.status).toBe(200);
  });

  it("refuses a taken name, a hostile name, a bad user or unknown fields, and leaves nothing behind", async () => {
    const before = (await hub.tenants.list({ limit: 100 })).items.map((t) => t.key);
    const archived = () =>
      existsSync(join(dir, "data", "archive"))
        ? readdirSync(join(dir, "data", "archive")).length
        : 0;
    const archivesBefore = archived();
    await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Taken", email: "a@taken.example", password: "password123" },
    });
    const taken = await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Taken", email: "b@taken.example", password: "password123" },
    });
    expect(taken.status).toBe(409);
    expectErrorShape(taken.body, 409);
    expect(taken.body.data.tenant.code).toBe("validation_not_unique");

    for (const tenant of ["", "a\u0000b", "x".repeat(200), "e\u0301"]) {
      const res = await call("POST", "/api/signup", {
        token: null,
        body: { tenant, email: "c@c.example", password: "password123" },
      });
      expect(res.status, JSON.stringify(tenant)).toBe(400);
      expectErrorShape(res.body, 400);
    }
    const badUser = await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Nobody", email: "not-an-email", password: "short" },
    });
    expect(badUser.status).toBe(400);
    expect(Object.keys(badUser.body.data).sort()).toEqual(["email", "password"]);
    const unknown = await call("POST", "/api/signup", {
      token: null,
      body: { tenant: "Extra", email: "e@e.example", password: "password123", role: "superuser" },
    });
    expect(unknown.status).toBe(400);
    const malformed = await call("POST", "/api/signup", { token: null, rawBody: "{nope" });
    expect(malformed.status).toBe(400);

    const after = (await hub.tenants.list({ limit: 100 })).items.map((t) => t.key);
    expect(after.sort()).toEqual([...before, "Taken"].sort());
    // The refused user left only an archived copy of the tenant it briefly had.
    expect(archived() - archivesBefore).toBeLessThanOrEqual(1);
  });
});

describe("the public folder", () => {
  it("serves the web app at /, its files, index.html for app routes, and never shadows the API", async () => {
    const home = await fetch(server.url + "/");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("the app");
    const file = await fetch(server.url + "/app.js");
    expect(await file.text()).toContain("console.log");
    const route = await fetch(server.url + "/dashboard/settings");
    expect(await route.text()).toContain("the app");
    const api = await fetch(server.url + "/api/nothing-here");
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ status: 404 });
    const traversal = await fetch(server.url + "/..%2f..%2fdata/catalog.db");
    expect(await traversal.text()).not.toContain("SQLite format");
  });
});
