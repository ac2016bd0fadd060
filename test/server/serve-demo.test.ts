import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killServed, ROOT, type Served, serveProcess } from "../helpers/serve.js";

const APP = join(ROOT, "examples", "company", "definition.ts");
const dir = mkdtempSync(join(tmpdir(), "tenantbase-serve-demo-"));

afterAll(async () => {
  await killServed();
  rmSync(dir, { recursive: true, force: true });
});

async function post(url: string, token: string, tenant: string, body?: unknown) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "x-dbname": tenant,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as any };
}

function serve(args: string[], env: Record<string, string> = {}): Promise<Served> {
  return serveProcess({
    args: ["--port", "0", ...args],
    env: { TENANTBASE_LOG_LEVEL: "warn", ...env },
    bannerEndsWith: "Try:",
  });
}

describe("tenantbase serve --app examples/company/definition.ts --demo", () => {
  it("creates the demo companies once, prints a curl line, and serves listEmployees", async () => {
    const data = join(dir, "data");
    const first = await serve(["--app", APP, "--data", data, "--demo"]);
    const output = first.output();
    expect(output).toContain('Demo tenants: "Acme Co" (created), "Globex" (created)');
    const token = /Admin token \(generated[^)]*\): (\S+)/.exec(output)?.[1];
    expect(token).toMatch(/^tb_/);
    const curl = /Try: (curl .*)/.exec(output)?.[1];
    expect(curl).toContain(`${first.url}/api/actions/listEmployees`);
    expect(curl).toContain(`'Authorization: Bearer ${token}'`);
    expect(curl).toContain(`'x-dbname: Acme Co'`);

    const acme = await post(`${first.url}/api/actions/listEmployees`, token!, "Acme Co", {
      page: 1,
      perPage: 10,
    });
    expect(acme.status).toBe(200);
    expect(acme.body.totalItems).toBe(3);
    expect(acme.body.items.map((e: any) => e.name)).toContain("Ada Lovelace");
    const globex = await post(`${first.url}/api/actions/getStats`, token!, "Globex");
    expect(globex.body).toMatchObject({
      employees: 2,
      projects: 2,
      byStatus: { planning: 1, active: 1, done: 0 },
    });
    const added = await post(`${first.url}/api/actions/addEmployee`, token!, "Globex", {
      name: "Mindy",
      role: "Sales",
    });
    expect(added.status).toBe(200);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    // A second start keeps the companies as they are.
    const second = await serve(["--app", APP, "--data", data, "--demo"], {
      TENANTBASE_ADMIN_TOKEN: "demo-admin-token-0123456789",
    });
    expect(second.output()).toContain('"Acme Co" (already there), "Globex" (already there)');
    expect(second.output()).toContain(`"Authorization: Bearer $TENANTBASE_ADMIN_TOKEN"`);
    expect(second.output()).not.toContain("demo-admin-token-0123456789");
    const stats = await post(
      `${second.url}/api/actions/getStats`,
      "demo-admin-token-0123456789",
      "Globex",
    );
    expect(stats.body.employees).toBe(3);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 120_000);

  it("refuses --demo without demo data, and a demo whose actions fail", async () => {
    const plain = join(dir, "plain.mts");
    writeFileSync(plain, "export default { migrations: [] };\n");
    await expect(serve(["--app", plain, "--data", join(dir, "d2"), "--demo"])).rejects.toThrow(
      /--demo needs an --app definition with demo data/,
    );
    const broken = join(dir, "broken.mts");
    writeFileSync(
      broken,
      `export default {
        actions: { add: { run() { throw new Error("seed failed"); } } },
        demo: { tenants: { Broken: [{ action: "add" }] } },
      };\n`,
    );
    await expect(serve(["--app", broken, "--data", join(dir, "d3"), "--demo"])).rejects.toThrow(
      /demo tenant "Broken": action add failed: seed failed/,
    );
  }, 120_000);
});
