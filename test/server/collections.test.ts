import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  type Call,
  expectErrorShape,
  postsCollection,
  startTestServer,
  type TestServer,
} from "./helpers.js";

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = apiClient(server);
  await call("POST", "/api/databases", { body: { name: "early" } });
});
afterAll(() => server.stop());

describe("collections API", () => {
  it("creates a collection every tenant gets, existing and new ones", async () => {
    const created = await call("POST", "/api/collections", { body: postsCollection });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: "posts", type: "base", listRule: "", indexes: [] });
    expect(created.body.id).toMatch(/^pbc_\d{10}$/);
    const names = created.body.fields.map((f: any) => f.name);
    expect(names).toEqual([
      "id",
      ...postsCollection.fields.map((f) => f.name),
      "created",
      "updated",
    ]);
    expect(created.body.fields[0]).toMatchObject({ name: "id", system: true, primaryKey: true });

    // A tenant created before the collection migrates on wake; one created after starts with it.
    await call("POST", "/api/databases", { body: { name: "late" } });
    for (const tenant of ["early", "late"]) {
      const record = await call("POST", "/api/collections/posts/records", {
        tenant,
        body: { title: `in ${tenant}` },
      });
      expect(record.status, tenant).toBe(200);
    }
    const dbs = (await call("GET", "/api/databases")).body;
    expect(dbs.find((d: any) => d.name === "early").schemaVersion).toBe(1);

    const list = await call("GET", "/api/collections");
    expect(list.body).toMatchObject({ page: 1, totalItems: 1, totalPages: 1 });
    expect((await call("GET", "/api/collections/posts")).body.id).toBe(created.body.id);
    expect((await call("GET", `/api/collections/${created.body.id}`)).body.name).toBe("posts");
  });

  it("rejects invalid definitions with PocketBase validation data", async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: "posts" }, "name"],
      [{ name: "Posts" }, "name"],
      [{ name: "1abc" }, "name"],
      [{ name: "bad name" }, "name"],
      [{ name: "_hidden" }, "name"],
      [{ name: "x", type: "view" }, "type"],
      [{ name: "x", fields: [{ name: "a", type: "nope" }] }, "fields"],
      [{ name: "x", fields: [{ name: "id", type: "number" }] }, "fields"],
      [{ name: "x", fields: [{ name: "expand", type: "text" }] }, "fields"],
      [
        {
          name: "x",
          fields: [
            { name: "a", type: "text" },
            { name: "A", type: "text" },
          ],
        },
        "fields",
      ],
      [{ name: "x", fields: [{ name: "s", type: "select" }] }, "fields"],
      [{ name: "x", fields: [{ name: "r", type: "relation", collectionId: "nope" }] }, "fields"],
      [{ name: "x", fields: [{ name: "t", type: "text", pattern: "(" }] }, "fields"],
      [{ name: "x", fields: [{ name: "t", type: "text", min: 5, max: 2 }] }, "fields"],
      [{ name: "x", fields: [{ name: "t", type: "text", surprise: 1 }] }, "fields"],
      [{ name: "x", fields: [{ name: "p", type: "password" }] }, "fields"],
      [{ name: "x", listRule: "nope = 1" }, "listRule"],
      [{ name: "x", listRule: "title = " }, "listRule"],
      [{ name: "x", viewRule: "a".repeat(4000) }, "viewRule"],
      [{ name: "x", extra: true }, "extra"],
      [{ name: "x", indexes: ["CREATE INDEX i ON x (a)"] }, "indexes"],
    ];
    for (const [body, key] of cases) {
      const res = await call("POST", "/api/collections", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expectErrorShape(res.body, 400);
      expect(Object.keys(res.body.data), JSON.stringify(body)).toContain(key);
    }
    const nested = await call("POST", "/api/collections", {
      body: {
        name: "x",
        fields: [
          { name: "ok", type: "text" },
          { name: "t", type: "text", min: -1 },
        ],
      },
    });
    expect(nested.body.data.fields["1"].min.code).toBeTypeOf("string");
    expect((await call("GET", "/api/collections")).body.totalItems).toBe(1);
  });

  it("adds fields and loosens options; refuses anything else (append-only)", async () => {
    await call("POST", "/api/collections", {
      body: {
        name: "notes",
        fields: [
          { name: "title", type: "text", required: true, max: 10, pattern: "^[a-z]+$" },
          { name: "kind", type: "select", values: ["a", "b"] },
          { name: "n", type: "number", min: 0, max: 5 },
          { name: "code", type: "text", unique: true },
        ],
      },
    });
    expect(
      (
        await call("POST", "/api/collections/notes/records", {
          tenant: "early",
          body: { title: "abc", kind: "a", code: "c1" },
        })
      ).status,
    ).toBe(200);
    const dup = await call("POST", "/api/collections/notes/records", {
      tenant: "early",
      body: { title: "abd", code: "c1" },
    });
    expect(dup.status).toBe(400);
    expect(dup.body.data.code.code).toBe("validation_not_unique");

    const tighten: unknown[] = [
      { fields: [{ name: "title", type: "text", required: true, max: 5, pattern: "^[a-z]+$" }] },
      { fields: [{ name: "title", type: "number" }] },
      { fields: [{ name: "kind", type: "select", values: ["a"] }] },
      { fields: [{ name: "n", type: "number", min: 1, max: 5 }] },
      { fields: [{ name: "code", type: "text", unique: true, required: true }] },
      { fields: [{ name: "title", type: "text", required: true, max: 10, pattern: "^[a-c]+$" }] },
      { name: "renamed" },
      { type: "auth" },
    ];
    for (const body of tighten) {
      const res = await call("PATCH", "/api/collections/notes", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expectErrorShape(res.body, 400);
    }

    const loosened = await call("PATCH", "/api/collections/notes", {
      body: {
        fields: [
          { name: "title", type: "text", max: 50 },
          { name: "kind", type: "select", values: ["a", "b", "c"], maxSelect: 2 },
          { name: "code", type: "text" },
          { name: "extra", type: "bool" },
        ],
        listRule: "",
      },
    });
    expect(loosened.status).toBe(200);
    expect(loosened.body.listRule).toBe("");
    const fields = Object.fromEntries(loosened.body.fields.map((f: any) => [f.name, f]));
    expect(fields.title).toMatchObject({ required: false, max: 50 });
    expect(fields.title.pattern).toBeUndefined();
    expect(fields.kind.maxSelect).toBe(2);
    expect(fields.extra.type).toBe("bool");

    // Old rows read with the new shape: the single select became a list.
    const rows = await call("GET", "/api/collections/notes/records", { tenant: "early" });
    expect(rows.body.items[0]).toMatchObject({ title: "abc", kind: ["a"], extra: false });
    // The unique index is gone; new values follow the loosened options.
    const free = await call("POST", "/api/collections/notes/records", {
      tenant: "early",
      body: { title: "Now Upper Case OK", code: "c1", kind: ["b", "c"] },
    });
    expect(free.status).toBe(200);
  });

  it("soft-deletes: hidden from the API, data kept, name free again", async () => {
    await call("POST", "/api/collections", {
      body: { name: "temp", fields: [{ name: "a", type: "text" }] },
    });
    await call("POST", "/api/collections/temp/records", { tenant: "early", body: { a: "kept" } });
    expect((await call("DELETE", "/api/collections/temp")).status).toBe(204);
    expect((await call("GET", "/api/collections/temp")).status).toBe(404);
    const gone = await call("GET", "/api/collections/temp/records", { tenant: "early" });
    expect(gone.status).toBe(404);
    expectErrorShape(gone.body, 404);
    expect((await call("DELETE", "/api/collections/temp")).status).toBe(404);

    const handle = await server.hub.tenant("early");
    const tables = (await handle.db.introspection.getTables()).map((t) => t.name);
    const archived = tables.find((t) => t.startsWith("_deleted_pbc_"));
    expect(archived).toBeDefined();
    const kept = await handle.db.selectFrom(archived!).select("a").execute();
    expect(kept).toEqual([{ a: "kept" }]);

    const again = await call("POST", "/api/collections", {
      body: { name: "temp", fields: [{ name: "b", type: "number" }] },
    });
    expect(again.status).toBe(200);
    const fresh = await call("GET", "/api/collections/temp/records", { tenant: "early" });
    expect(fresh.body.totalItems).toBe(0);
  });

  it("refuses to delete a collection another one relates to", async () => {
    await call("POST", "/api/collections", {
      body: { name: "authors", fields: [{ name: "n", type: "text" }] },
    });
    await call("POST", "/api/collections", {
      body: {
        name: "books",
        fields: [{ name: "author", type: "relation", collectionId: "authors" }],
      },
    });
    const refused = await call("DELETE", "/api/collections/authors");
    expect(refused.status).toBe(400);
    expectErrorShape(refused.body, 400);
  });

  it("is for superusers only, and unknown collections are 404", async () => {
    expect((await call("GET", "/api/collections", { token: null })).status).toBe(401);
    expect(
      (await call("POST", "/api/collections", { token: null, body: { name: "zz" } })).status,
    ).toBe(401);
    expect((await call("GET", "/api/collections/nope")).status).toBe(404);
    expect((await call("PATCH", "/api/collections/nope", { body: {} })).status).toBe(404);
  });
});
