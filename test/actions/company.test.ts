import { join } from "node:path";
import { describe, expect, it } from "vitest";
import company, {
  companyDefinition,
  DEFAULT_MAX_ROWS,
  maxRowsFromEnv,
} from "../../examples/company/definition.js";
import {
  ActionForbidden,
  ActionInputInvalid,
  ActionRejected,
  createTenantbase,
  sqlite,
  type TenantEvent,
} from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";

function hubOf(definition = company) {
  return createTenantbase({ ...definition, driver: sqlite({ dir: join(tempDir(), "data") }) });
}

describe("the company example", () => {
  it("keeps each company's employees and projects, paginated, with stats", async () => {
    const hub = hubOf();
    await hub.tenants.create("Acme Co");
    await hub.tenants.create("Globex");
    const events: TenantEvent[] = [];
    hub.subscribe("Acme Co", (event) => events.push(event));
    const acme = await hub.tenant("Acme Co");
    for (let i = 1; i <= 5; i++) {
      await acme.actions.addEmployee({ name: `Person ${i}`, role: i === 1 ? "CEO" : "Engineer" });
    }
    await acme.actions.addProject({ name: "Rocket" });
    await acme.actions.addProject({ name: "Skates", status: "done" });
    await hub.runAction("Globex", "addEmployee", { name: "Hank", role: "CEO" });

    const first = await acme.actions.listEmployees({ page: 1, perPage: 2 });
    expect(first).toMatchObject({ page: 1, perPage: 2, totalItems: 5 });
    expect(first.items.map((e) => [e.id, e.name])).toEqual([
      [1, "Person 1"],
      [2, "Person 2"],
    ]);
    const last = await acme.actions.listEmployees({ page: 3, perPage: 2 });
    expect(last.items.map((e) => e.name)).toEqual(["Person 5"]);
    expect((await acme.actions.listEmployees()).items).toHaveLength(5);
    expect((await acme.actions.listEmployees({ page: 9 })).items).toEqual([]);
    const projects = await acme.actions.listProjects({ status: "planning" });
    expect(projects.items.map((p) => [p.name, p.status])).toEqual([["Rocket", "planning"]]);
    expect(projects.totalItems).toBe(1);
    const stats = await acme.actions.getStats();
    expect(stats).toMatchObject({
      company: "Acme Co",
      employees: 5,
      projects: 2,
      byStatus: { planning: 1, active: 0, done: 1 },
    });
    expect(stats.updatedAt! >= stats.createdAt!).toBe(true);
    expect(await hub.runAction("Globex", "getStats")).toMatchObject({
      company: "Globex",
      employees: 1,
      projects: 0,
      byStatus: { planning: 0, active: 0, done: 0 },
    });
    await hub.tenants.create("Initech");
    expect(await hub.runAction("Initech", "getStats")).toMatchObject({
      employees: 0,
      createdAt: null,
      updatedAt: null,
    });
    expect(events.map((e) => e.name)).toEqual([
      ...Array(5).fill("employeeAdded"),
      "projectAdded",
      "projectAdded",
    ]);
    expect(events[0]!.payload).toMatchObject({ id: 1, name: "Person 1", role: "CEO" });
    await hub.close();
  });

  it("checks names, roles and statuses", async () => {
    const hub = hubOf();
    await hub.tenants.create("Acme Co");
    const acme = await hub.tenant("Acme Co");
    const cases: Array<[unknown, string, string]> = [
      [{ name: "", role: "x" }, "name", "validation_too_small"],
      [{ name: "x".repeat(101), role: "x" }, "name", "validation_too_big"],
      [{ name: "x", role: "r".repeat(51) }, "role", "validation_too_big"],
      [{ name: "a\u0000b", role: "x" }, "name", "validation_invalid_format"],
      [{ name: "x", role: "x", admin: true }, "admin", "validation_unknown_field"],
      [{ name: 5, role: "x" }, "name", "validation_invalid_type"],
    ];
    for (const [input, field, code] of cases) {
      const error = await acme.actions.addEmployee(input as never).catch((e) => e);
      expect(error).toBeInstanceOf(ActionInputInvalid);
      expect(error.details.fields[field]?.code).toBe(code);
    }
    expect(
      (await acme.actions.addEmployee({ name: "x".repeat(100), role: "r" })).name,
    ).toHaveLength(100);
    await expect(
      acme.actions.addProject({ name: "p", status: "paused" as never }),
    ).rejects.toBeInstanceOf(ActionInputInvalid);
    await expect(acme.actions.listEmployees({ page: 1, perPage: 101 })).rejects.toBeInstanceOf(
      ActionInputInvalid,
    );
    const member = {
      kind: "user" as const,
      id: "m",
      role: "member",
      collection: "users",
      data: {},
    };
    await expect(
      acme.actions.addEmployee({ name: "n", role: "r" }, { auth: member }),
    ).rejects.toBeInstanceOf(ActionForbidden);
    expect((await acme.actions.getStats(undefined, { auth: member })).employees).toBe(1);
    await hub.close();
  });

  it("caps the rows of a company", async () => {
    const hub = hubOf(companyDefinition({ maxRows: 3 }));
    await hub.tenants.create("Tiny");
    await hub.tenants.create("Other");
    const tiny = await hub.tenant("Tiny");
    await tiny.actions.addEmployee({ name: "a", role: "r" });
    await tiny.actions.addProject({ name: "p" });
    // Concurrent adds race for the last row: exactly one wins.
    const results = await Promise.allSettled([
      tiny.actions.addEmployee({ name: "b", role: "r" }),
      tiny.actions.addProject({ name: "q" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(ActionRejected);
    expect(refused.reason.status).toBe(409);
    expect(refused.reason.message).toMatch(/"Tiny" has reached its limit of 3 rows/);
    const stats = await tiny.actions.getStats();
    expect(stats.employees + stats.projects).toBe(3);
    // The cap is per company.
    await hub.runAction("Other", "addEmployee", { name: "c", role: "r" });
    await hub.close();
  });

  it("reads the cap from COMPANY_MAX_ROWS", () => {
    expect(maxRowsFromEnv({})).toBe(DEFAULT_MAX_ROWS);
    expect(DEFAULT_MAX_ROWS).toBe(10_000);
    expect(maxRowsFromEnv({ COMPANY_MAX_ROWS: "25" })).toBe(25);
    for (const bad of ["0", "-1", "1.5", "lots", "1e400"]) {
      expect(() => maxRowsFromEnv({ COMPANY_MAX_ROWS: bad })).toThrow(/COMPANY_MAX_ROWS/);
    }
  });
});
