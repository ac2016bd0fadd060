/** The company example over HTTP: the seed's own checks, and actions under concurrency. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { companyDefinition } from "../../examples/company/definition.js";
import { createTenantbase, sqlite, type Tenantbase, type TenantEvent } from "../../src/index.js";
import { type RunningServer, startServer } from "../../src/server/index.js";
import { ADMIN_TOKEN, apiClient, type Call, JWT_SECRET } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tenantbase-company-"));
let hub: Tenantbase;
let server: RunningServer;
let call: Call;

beforeAll(async () => {
  hub = createTenantbase({ ...companyDefinition(), driver: sqlite({ dir: join(dir, "data") }) });
  server = await startServer({
    hub,
    port: 0,
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
  });
  call = apiClient(server);
  for (const name of ["Alpha Co", "Beta Co", "Busy"]) {
    expect((await call("POST", "/api/databases", { body: { name } })).status).toBe(200);
  }
});

afterAll(async () => {
  await server.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
});

const action = (tenant: string, name: string, body?: unknown) =>
  call("POST", `/api/actions/${name}`, { tenant, ...(body === undefined ? {} : { body }) });

describe("the company example over HTTP", () => {
  it("keeps Alpha Co's data out of Beta Co, and counts each company's own", async () => {
    for (const name of ["Ada", "Alan", "Grace"]) {
      expect((await action("Alpha Co", "addEmployee", { name, role: "Engineer" })).status).toBe(
        200,
      );
    }
    await action("Alpha Co", "addProject", { name: "Engine", status: "active" });
    await action("Beta Co", "addEmployee", { name: "Bea", role: "Designer" });

    const beta = await action("Beta Co", "listEmployees", {});
    expect(beta.body.items.map((e: { name: string }) => e.name)).toEqual(["Bea"]);
    const betaProjects = await action("Beta Co", "listProjects", {});
    expect(betaProjects.body).toMatchObject({ items: [], totalItems: 0 });

    const alpha = (await action("Alpha Co", "getStats")).body;
    expect(alpha).toMatchObject({ company: "Alpha Co", employees: 3, projects: 1 });
    expect(alpha.byStatus).toEqual({ planning: 0, active: 1, done: 0 });
    expect(Date.parse(alpha.updatedAt)).toBeGreaterThanOrEqual(Date.parse(alpha.createdAt));
    const betaStats = (await action("Beta Co", "getStats")).body;
    expect(betaStats).toMatchObject({ company: "Beta Co", employees: 1, projects: 0 });
    expect(Date.parse(betaStats.updatedAt)).toBeGreaterThanOrEqual(Date.parse(betaStats.createdAt));
  });

  it("serialises 500 concurrent calls on one company: every id once, events in commit order", async () => {
    const events: TenantEvent[] = [];
    const stop = hub.subscribe("Busy", (event) => events.push(event));
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        action("Busy", "addEmployee", { name: `Person ${i}`, role: "Staff" }),
      ),
    );
    stop();
    expect(responses.map((r) => r.status)).toEqual(Array(500).fill(200));
    // ids are max+1 read inside the action: any interleaving would repeat one.
    const ids = responses.map((r) => r.body.id as number).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(events.map((e) => (e.payload as { id: number }).id)).toEqual(ids);
    const stats = (await action("Busy", "getStats")).body;
    expect(stats.employees).toBe(500);
  });
});
