import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type company from "../../examples/company/definition.js";
import { companyDefinition } from "../../examples/company/definition.js";
import {
  ForbiddenError,
  NotFoundError,
  TenantbaseClient,
  UnauthorizedError,
  ValidationError,
} from "../../src/client/index.js";
import { createTenantbase, sqlite } from "../../src/index.js";
import { type RunningServer, startServer } from "../../src/server/index.js";
import { ADMIN_TOKEN, JWT_SECRET, usersCollection } from "../server/helpers.js";

type Company = typeof company;

const dir = mkdtempSync(join(tmpdir(), "tenantbase-client-actions-"));
const hub = createTenantbase({
  ...companyDefinition(),
  driver: sqlite({ dir: join(dir, "data") }),
});
let server: RunningServer;
let admin: TenantbaseClient;

beforeAll(async () => {
  server = await startServer({
    hub,
    port: 0,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
  });
  admin = new TenantbaseClient(server.url, { token: ADMIN_TOKEN });
  await admin.settings.databases.create({ name: "Acme Co" });
  await admin.settings.databases.create({ name: "Ünïcødé 😀" });
  await admin.settings.collections.create(usersCollection as never);
});

afterAll(async () => {
  await server.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("client.db(name).action(name, input)", () => {
  it("calls actions with typed inputs and results", async () => {
    const acme = admin.db<Company>("Acme Co");
    const employee = await acme.action("addEmployee", { name: "Ada", role: "Engineer" });
    const id: number = employee.id;
    // @ts-expect-error the result is typed: id is a number
    const wrong: string = employee.id;
    expect(typeof wrong).toBe("number");
    expect(id).toBe(1);
    expect(employee).toMatchObject({ name: "Ada", role: "Engineer" });
    const project = await acme.action("addProject", { name: "Engine" });
    expect(project.status).toBe("planning");
    const list = await acme.action("listEmployees");
    expect(list.items.map((e) => e.name)).toEqual(["Ada"]);
    expect(list.totalItems).toBe(1);
    const stats = await acme.action("getStats");
    expect(stats).toMatchObject({
      company: "Acme Co",
      employees: 1,
      projects: 1,
      byStatus: { planning: 1, active: 0, done: 0 },
    });
    // Typed from the definition: strings over JSON.
    const updated: string | null = stats.updatedAt;
    expect(updated! >= stats.createdAt!).toBe(true);
    // @ts-expect-error role is required
    await expect(acme.action("addEmployee", { name: "x" })).rejects.toBeInstanceOf(ValidationError);
    // @ts-expect-error no such action
    await expect(acme.action("fireEveryone")).rejects.toBeInstanceOf(NotFoundError);
    // Keys that are not ASCII reach the right tenant.
    const unicode = admin.db<Company>("Ünïcødé 😀");
    await unicode.action("addEmployee", { name: "Zoë", role: "Ünïcørn" });
    expect((await unicode.action("listEmployees")).items.map((e) => e.name)).toEqual(["Zoë"]);
    expect((await acme.action("listEmployees")).totalItems).toBe(1);
  });

  it("throws typed errors carrying the server's field problems", async () => {
    const acme = admin.db<Company>("Acme Co");
    const invalid = await acme
      .action("addEmployee", { name: "", role: "r".repeat(51) })
      .catch((error) => error);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid.status).toBe(400);
    expect(invalid.fieldError("name")?.code).toBe("validation_too_small");
    expect(invalid.fieldError("role")?.code).toBe("validation_too_big");
    // Untyped use works too.
    await expect(admin.db("Acme Co").action("nope", {})).rejects.toBeInstanceOf(NotFoundError);
    const anonymous = new TenantbaseClient(server.url);
    await expect(anonymous.db<Company>("Acme Co").action("listEmployees")).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });

  it("uses a tenant user's token for its tenant and role", async () => {
    await admin.db("Acme Co").collection("users").create({
      email: "bob@acme.io",
      password: "password123",
      passwordConfirm: "password123",
      role: "member",
    });
    const bob = new TenantbaseClient(server.url);
    await bob.db("Acme Co").collection("users").authWithPassword("bob@acme.io", "password123");
    const own = bob.db<Company>();
    expect((await own.action("getStats")).employees).toBe(1);
    await expect(own.action("addEmployee", { name: "Bob", role: "Boss" })).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    await expect(bob.db<Company>("Ünïcødé 😀").action("getStats")).rejects.toBeInstanceOf(
      ForbiddenError,
    );
  });
});
