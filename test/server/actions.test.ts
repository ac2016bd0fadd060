import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { companyDefinition } from "../../examples/company/definition.js";
import { createTenantbase, sqlite, type TenantEvent } from "../../src/index.js";
import { type RunningServer, startServer } from "../../src/server/index.js";
import {
  ADMIN_TOKEN,
  apiClient,
  type Call,
  expectErrorShape,
  JWT_SECRET,
  signUp,
  usersCollection,
} from "./helpers.js";

const IDP_SECRET = "identity-provider-shared-secret";
const MAX_ROWS = 6;

const dir = mkdtempSync(join(tmpdir(), "tenantbase-actions-"));
const hub = createTenantbase({
  ...companyDefinition({ maxRows: MAX_ROWS }),
  driver: sqlite({ dir: join(dir, "data") }),
});
let server: RunningServer;
let call: Call;
let admin: { token: string };
let member: { token: string };
let globexAdmin: { token: string };

beforeAll(async () => {
  server = await startServer({
    hub,
    port: 0,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
    identityProviders: [
      { issuer: "https://idp.example", audience: "api", secret: IDP_SECRET, tenantClaim: "org" },
    ],
  });
  call = apiClient(server);
  for (const name of ["Acme Co", "Globex"]) {
    expect((await call("POST", "/api/databases", { body: { name } })).status).toBe(200);
  }
  expect((await call("POST", "/api/collections", { body: usersCollection })).status).toBe(200);
  admin = await signUp(call, "Acme Co", "ada@acme.io", { role: "admin" });
  member = await signUp(call, "Acme Co", "bob@acme.io", { role: "member" });
  globexAdmin = await signUp(call, "Globex", "hank@globex.io", { role: "admin" });
});

afterAll(async () => {
  await server.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

const action = (name: string, options: Parameters<Call>[2] = {}) =>
  call("POST", `/api/actions/${name}`, options);

async function idpToken(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("https://idp.example")
    .setAudience("api")
    .setSubject("idp-user-1")
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(IDP_SECRET));
}

describe("POST /api/actions/:name", () => {
  it("runs an action for a superuser on the tenant named by x-dbname", async () => {
    const events: TenantEvent[] = [];
    const other: TenantEvent[] = [];
    const stop = [
      hub.subscribe("Acme Co", (e) => events.push(e)),
      hub.subscribe("Globex", (e) => other.push(e)),
    ];
    const added = await action("addEmployee", {
      tenant: "Acme Co",
      body: { name: "Grace Hopper", role: "Admiral" },
    });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ id: 1, name: "Grace Hopper", role: "Admiral" });
    expect(events.map((e) => [e.name, e.payload])).toEqual([["employeeAdded", added.body]]);
    expect(other).toEqual([]);
    for (const unsubscribe of stop) unsubscribe();

    // No body: the input's defaults.
    const list = await action("listEmployees", { tenant: "Acme Co" });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ items: [added.body], page: 1, perPage: 20, totalItems: 1 });
    const globex = await action("listEmployees", { tenant: "Globex", body: { perPage: 5 } });
    expect(globex.body).toEqual({ items: [], page: 1, perPage: 5, totalItems: 0 });
  });

  it("answers 400 with PocketBase field errors for invalid input", async () => {
    const res = await action("addEmployee", {
      tenant: "Acme Co",
      body: { name: "", role: "r".repeat(51), salary: 1 },
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 400);
    expect(res.body.data.name).toMatchObject({ code: "validation_too_small" });
    expect(res.body.data.role).toMatchObject({ code: "validation_too_big" });
    expect(res.body.data.salary).toEqual({
      code: "validation_unknown_field",
      message: "Unknown field.",
    });
    expect(typeof res.body.data.name.message).toBe("string");
    const whole = await action("addEmployee", { tenant: "Acme Co", body: [1, 2] });
    expect(whole.status).toBe(400);
    expect(whole.body.data.input.code).toBe("validation_invalid_type");
    const noInput = await action("getStats", { tenant: "Acme Co", body: { x: 1 } });
    expect(noInput.status).toBe(400);
    expect(noInput.body.data.input.code).toBe("validation_no_input");
  });

  it("answers 400 for malformed or non-JSON bodies", async () => {
    const malformed = await action("listEmployees", {
      tenant: "Acme Co",
      rawBody: '{"page": 1',
      headers: { "content-type": "application/json" },
    });
    expect(malformed.status).toBe(400);
    expectErrorShape(malformed.body, 400);
    expect(malformed.body.message).toMatch(/invalid JSON/);
    const form = await action("listEmployees", {
      tenant: "Acme Co",
      rawBody: "page=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(400);
    expect(form.body.message).toMatch(/Only JSON/);
  });

  it("answers 404 for unknown actions and tenants", async () => {
    for (const name of ["nope", "__proto__", "constructor", "toString", "listEmployees%20"]) {
      const res = await action(name, { tenant: "Acme Co", body: {} });
      expect(res.status, name).toBe(404);
      expectErrorShape(res.body, 404);
    }
    const ghost = await action("listEmployees", { tenant: "Initech" });
    expect(ghost.status).toBe(404);
    expectErrorShape(ghost.body, 404);
    const missing = await action("listEmployees", {});
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/x-dbname/);
  });

  it("answers 401 without a credential and for bad tokens", async () => {
    const anonymous = await action("listEmployees", { token: null, tenant: "Acme Co" });
    expect(anonymous.status).toBe(401);
    expectErrorShape(anonymous.body, 401);
    // Before anything else about the tenant is said.
    expect((await action("listEmployees", { token: null })).status).toBe(401);
    expect((await action("listEmployees", { token: null, tenant: "Initech" })).status).toBe(401);
    const forged = await action("listEmployees", { token: `${member.token}x` });
    expect(forged.status).toBe(401);
  });

  it("lets tenant users in by role, on their own tenant only", async () => {
    // The tenant comes from the token.
    const byAdmin = await action("addProject", {
      token: admin.token,
      body: { name: "Compiler", status: "active" },
    });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ name: "Compiler", status: "active" });
    const same = await action("getStats", { token: member.token, tenant: "Acme Co" });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({
      employees: 1,
      projects: 1,
      byStatus: { planning: 0, active: 1, done: 0 },
    });
    // A member may read but not add.
    const denied = await action("addEmployee", {
      token: member.token,
      body: { name: "Mallory", role: "Intruder" },
    });
    expect(denied.status).toBe(403);
    expectErrorShape(denied.body, 403);
    expect(denied.body.message).toMatch(/"owner", "admin".*"member"/);
    // Roles before input: a member learns nothing of the schema.
    const deniedBad = await action("addEmployee", { token: member.token, body: { name: "" } });
    expect(deniedBad.status).toBe(403);
    // x-dbname naming another tenant than the token's.
    const cross = await action("listEmployees", { token: admin.token, tenant: "Globex" });
    expect(cross.status).toBe(403);
    expectErrorShape(cross.body, 403);
    const crossWrite = await action("addEmployee", {
      token: globexAdmin.token,
      tenant: "Acme Co",
      body: { name: "Hank", role: "CEO" },
    });
    expect(crossWrite.status).toBe(403);
    const acme = await action("listEmployees", { tenant: "Acme Co" });
    expect(acme.body.items.map((e: any) => e.name)).toEqual(["Grace Hopper"]);
  });

  it("takes an identity provider's role claim", async () => {
    const owner = await idpToken({ org: "Globex", role: "owner" });
    const added = await action("addEmployee", {
      token: owner,
      body: { name: "Frank", role: "VP" },
    });
    expect(added.status).toBe(200);
    const guest = await idpToken({ org: "Globex", role: ["owner"] });
    const refused = await action("addEmployee", { token: guest, body: { name: "G", role: "x" } });
    expect(refused.status).toBe(403);
    const other = await idpToken({ org: "Globex", role: "owner" });
    expect((await action("listEmployees", { token: other, tenant: "Acme Co" })).status).toBe(403);
  });

  it("answers the action's own refusals with their status", async () => {
    await hub.tenants.create("Full");
    for (let i = 0; i < MAX_ROWS; i++) {
      const res = await action("addProject", { tenant: "Full", body: { name: `p${i}` } });
      expect(res.status).toBe(200);
    }
    const over = await action("addEmployee", { tenant: "Full", body: { name: "n", role: "r" } });
    expect(over.status).toBe(409);
    expectErrorShape(over.body, 409);
    expect(over.body.message).toMatch(/limit of 6 rows/);
    expect(over.body.data.limit.code).toBe("limit_reached");
    const stats = await action("getStats", { tenant: "Full" });
    expect(stats.body.employees).toBe(0);
  });

  it("survives hostile input", async () => {
    const polluting = await action("addEmployee", {
      tenant: "Globex",
      rawBody: '{"name":"Eve","role":"x","__proto__":{"polluted":true}}',
      headers: { "content-type": "application/json" },
    });
    expect(polluting.status).toBe(400);
    // The field named "__proto__" is reported as data (an own key), not taken as a prototype.
    const proto = Object.getOwnPropertyDescriptor(polluting.body.data, "__proto__")?.value;
    expect(proto.code).toBe("validation_unknown_field");
    expect(({} as any).polluted).toBeUndefined();
    const deep = "[".repeat(50_000) + "]".repeat(50_000);
    const nested = await action("listEmployees", {
      tenant: "Globex",
      rawBody: deep,
      headers: { "content-type": "application/json" },
    });
    expect(nested.status).toBe(400);
    const weird = await action("addEmployee", {
      tenant: "Globex",
      body: { name: "Robert'); DROP TABLE employees;--", role: "😀 ünïcødé" },
    });
    expect(weird.status).toBe(200);
    const list = await action("listEmployees", { tenant: "Globex", body: { perPage: 100 } });
    expect(list.body.items.map((e: any) => e.role)).toContain("😀 ünïcødé");
    const stringPage = await action("listEmployees", { tenant: "Globex", body: { page: "1" } });
    expect(stringPage.status).toBe(400);
    expect(stringPage.body.data.page.code).toBe("validation_invalid_type");
  });

  it("refuses huge bodies with 413", async () => {
    const res = await action("addEmployee", {
      tenant: "Globex",
      body: { name: "x".repeat(2 * 1024 * 1024), role: "r" },
    });
    expect(res.status).toBe(413);
    expectErrorShape(res.body, 413);
    const stats = await action("getStats", { tenant: "Globex" });
    expect(stats.status).toBe(200);
  });
});
