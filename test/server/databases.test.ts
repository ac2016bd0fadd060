import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

describe("databases API", () => {
  it("creates, lists and deletes databases, keeping a final copy", async () => {
    const created = await call("POST", "/api/databases", { body: { name: "Acme Co" } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: "Acme Co", status: "active", schemaVersion: 0 });
    expect(typeof created.body.sizeBytes).toBe("number");
    expect(Number.isNaN(Date.parse(created.body.createdAt))).toBe(false);

    const again = await call("POST", "/api/databases", { body: { name: "Acme Co" } });
    expect(again.status).toBe(409);
    expectErrorShape(again.body, 409);

    await call("POST", "/api/databases", { body: { name: "globex" } });
    const list = await call("GET", "/api/databases");
    expect(list.status).toBe(200);
    expect(list.body.map((d: any) => d.name)).toEqual(["Acme Co", "globex"]);
    for (const db of list.body) {
      expect(Object.keys(db).sort()).toEqual(
        ["createdAt", "name", "schemaVersion", "sizeBytes", "status"].sort(),
      );
    }

    const deleted = await call("DELETE", `/api/databases/${encodeURIComponent("Acme Co")}`);
    expect(deleted.status).toBe(204);
    expect((await call("GET", "/api/databases")).body.map((d: any) => d.name)).toEqual(["globex"]);
    const archive = readdirSync(join(server.dir, "data", "archive"));
    expect(archive.some((name) => name.startsWith("t-_41cme_20_43o."))).toBe(true);

    const missing = await call("DELETE", `/api/databases/${encodeURIComponent("Acme Co")}`);
    expect(missing.status).toBe(404);
    expectErrorShape(missing.body, 404);
  });

  it("gives hostile names their own database or a clear 400, never a path outside the data dir", async () => {
    const hostile = ["../x", "a/b", "..", "con", "default.db", "😀", "UPPER", "upper", "%2e%2e"];
    for (const name of hostile) {
      const res = await call("POST", "/api/databases", { body: { name } });
      expect(res.status, name).toBe(200);
      expect(res.body.name).toBe(name);
    }
    const names = (await call("GET", "/api/databases")).body.map((d: any) => d.name);
    for (const name of hostile) expect(names).toContain(name);
    // Only encoded file names under tenants/, nothing escaped.
    for (const file of readdirSync(join(server.dir, "data", "tenants"))) {
      expect(file).toMatch(/^[a-z0-9_-]+\.db(-wal|-shm)?$/);
    }
    expect(existsSync(join(server.dir, "data", "x.db"))).toBe(false);
    // Deleting through the path works for names with slashes and dots.
    expect((await call("DELETE", `/api/databases/${encodeURIComponent("a/b")}`)).status).toBe(204);
    expect((await call("DELETE", "/api/databases?name=..")).status).toBe(204);
    expect((await call("DELETE", "/api/databases")).status).toBe(400);

    const invalid = ["", "x".repeat(10_000), "a\u0000b", "tab\there", "e\u0301"];
    for (const name of invalid) {
      const res = await call("POST", "/api/databases", { body: { name } });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expectErrorShape(res.body, 400);
    }
    const wrongType = await call("POST", "/api/databases", { body: { name: 42 } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.data.name.code).toBeTypeOf("string");
    const extra = await call("POST", "/api/databases", { body: { name: "ok", drop: true } });
    expect(extra.status).toBe(400);
    expect(extra.body.data.drop.code).toBe("validation_unknown_field");
  });

  it("is for superusers only", async () => {
    const anonymous = await call("GET", "/api/databases", { token: null });
    expect(anonymous.status).toBe(401);
    expectErrorShape(anonymous.body, 401);
    const wrong = await call("POST", "/api/databases", {
      token: "not-the-admin-token",
      body: { name: "z" },
    });
    expect(wrong.status).toBe(401);
    const bare = await fetch(`${server.url}/api/databases`, {
      headers: { authorization: "test-admin-token-0123456789" },
    });
    expect(bare.status).toBe(200);
  });
});
