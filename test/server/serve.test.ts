import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killServed, type Served, serveProcess } from "../helpers/serve.js";

const dir = mkdtempSync(join(tmpdir(), "tenantbase-serve-"));

afterAll(async () => {
  await killServed();
  rmSync(dir, { recursive: true, force: true });
});

function serve(env: Record<string, string> = {}, args: string[] = []): Promise<Served> {
  return serveProcess({ args: ["--data", join(dir, "data"), ...args], env });
}

describe("tenantbase serve", () => {
  it("starts, prints and keeps a generated admin token, and stops cleanly on SIGTERM", async () => {
    const first = await serve();
    expect(existsSync(join(dir, "data", "catalog.db"))).toBe(true);
    const token = /Admin token \(generated[^)]*\): (\S+)/.exec(first.output())?.[1];
    expect(token).toMatch(/^tb_/);
    expect((await fetch(`${first.url}/api/health`)).status).toBe(200);
    const created = await fetch(`${first.url}/api/databases`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "acme" }),
    });
    expect(created.status).toBe(200);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const second = await serve();
    expect(second.output()).toContain(`from the catalog`);
    expect(second.output()).toContain(token);
    const list = await fetch(`${second.url}/api/databases`, { headers: { authorization: token! } });
    expect((await list.json()).map((d: any) => d.name)).toEqual(["acme"]);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });

  it("uses TENANTBASE_ADMIN_TOKEN, --port and the --app definition's migrations", async () => {
    // .mts: outside a "type": "module" package a .ts file would load as CommonJS.
    const app = join(dir, "definition.mts");
    writeFileSync(
      app,
      `export default { migrations: [{ name: "0001_ledger", async up(db: any) {
        await db.schema.createTable("ledger").addColumn("id", "integer").execute();
      } }] };\n`,
    );
    const served = await serve({ TENANTBASE_ADMIN_TOKEN: "env-admin-token-123456" }, [
      "--port",
      "0",
      "--app",
      app,
    ]);
    expect(served.output()).not.toContain("Admin token");
    const ok = await fetch(`${served.url}/api/databases`, {
      headers: { authorization: "Bearer env-admin-token-123456" },
    });
    expect(ok.status).toBe(200);
    const old = await fetch(`${served.url}/api/databases`, {
      headers: { authorization: "Bearer tb_x" },
    });
    expect(old.status).toBe(401);
    // The app's own table exists in tenant databases, so no collection may take its name.
    const clash = await fetch(`${served.url}/api/collections`, {
      method: "POST",
      headers: {
        authorization: "Bearer env-admin-token-123456",
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "ledger" }),
    });
    expect(clash.status).toBe(400);
    expect((await clash.json()).data.name.code).toBe("validation_collection_name_exists");
    served.child.kill("SIGTERM");
    expect(await served.exited).toBe(0);
  });
});
