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
const T = "acme";

beforeAll(async () => {
  server = await startTestServer();
  call = apiClient(server);
  await call("POST", "/api/databases", { body: { name: T } });
  await call("POST", "/api/collections", { body: postsCollection });
  const titles = ["alpha", "bravo", "charlie", "delta", "echo"];
  for (const [i, title] of titles.entries()) {
    const res = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: {
        title,
        views: i * 10,
        live: i % 2 === 0,
        tags: i % 2 === 0 ? ["news"] : ["tech", "life"],
        status: i < 2 ? "draft" : "published",
        meta: { rank: i },
      },
    });
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  }
});
afterAll(() => server.stop());

const list = (query = "") => call("GET", `/api/collections/posts/records${query}`, { tenant: T });

describe("records API: list", () => {
  it("pages with PocketBase's shape and defaults", async () => {
    const all = await list();
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ page: 1, perPage: 30, totalItems: 5, totalPages: 1 });
    const item = all.body.items[0];
    expect(Object.keys(item).slice(0, 3)).toEqual(["collectionId", "collectionName", "id"]);
    expect(item.collectionName).toBe("posts");
    expect(item.id).toMatch(/^[a-z0-9]{15}$/);
    expect(item.created).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(item).toMatchObject({
      title: "alpha",
      body: "",
      views: 0,
      live: true,
      tags: ["news"],
      status: "draft",
      meta: { rank: 0 },
      site: "",
      contact: "",
      publishedAt: "",
    });

    const page2 = await list("?page=2&perPage=2&sort=title");
    expect(page2.body).toMatchObject({ page: 2, perPage: 2, totalItems: 5, totalPages: 3 });
    expect(page2.body.items.map((r: any) => r.title)).toEqual(["charlie", "delta"]);
    const skip = await list("?perPage=2&skipTotal=1&sort=-views");
    expect(skip.body).toMatchObject({ totalItems: -1, totalPages: -1 });
    expect(skip.body.items.map((r: any) => r.title)).toEqual(["echo", "delta"]);
    const beyond = await list("?page=9");
    expect(beyond.body.items).toEqual([]);
  });

  it("filters and sorts with PocketBase's syntax", async () => {
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ filter: "views >= 20 && live = true", sort: "-views" }, ["echo", "charlie"]],
      [{ filter: 'title ~ "ha"' }, ["alpha", "charlie"]],
      [{ filter: 'tags ?= "tech"', sort: "title" }, ["bravo", "delta"]],
      [{ filter: '(status = "draft" || views > 35)', sort: "title" }, ["alpha", "bravo", "echo"]],
      [{ filter: "meta.rank = 3" }, ["delta"]],
      [{ filter: "created <= @now", sort: "-title", perPage: "1" }, ["echo"]],
      [{ sort: "-live,title" }, ["alpha", "charlie", "echo", "bravo", "delta"]],
    ];
    for (const [params, titles] of cases) {
      const query = new URLSearchParams(params).toString();
      const res = await list(`?${query}`);
      expect(res.status, query).toBe(200);
      expect(
        res.body.items.map((r: any) => r.title),
        query,
      ).toEqual(titles);
    }
  });

  it("picks fields", async () => {
    const res = await list("?fields=id,title,body:excerpt(3,true)&perPage=1");
    expect(Object.keys(res.body.items[0])).toEqual(["id", "title", "body"]);
    const one = res.body.items[0];
    const view = await call("GET", `/api/collections/posts/records/${one.id}?fields=title`, {
      tenant: T,
    });
    expect(view.body).toEqual({ title: "alpha" });
  });

  it("answers bad parameters with a clear 400 and changes nothing", async () => {
    const bad = [
      "?page=0",
      "?page=-1",
      "?page=abc",
      "?perPage=0",
      "?perPage=1001",
      "?perPage=2.5",
      "?skipTotal=maybe",
      `?filter=${encodeURIComponent("title = ")}`,
      `?filter=${encodeURIComponent("nope = 1")}`,
      `?filter=${encodeURIComponent("title = 'a' || 1=1; DROP TABLE posts; --")}`,
      `?filter=${encodeURIComponent(`title = "${"x".repeat(4000)}"`)}`,
      `?sort=${encodeURIComponent("nope")}`,
      `?sort=${encodeURIComponent("title; DROP TABLE posts")}`,
      "?fields=nope",
    ];
    for (const query of bad) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expectErrorShape(res.body, 400);
    }
    const perPage = await list("?perPage=5000");
    expect(perPage.body.data.perPage.code).toBe("validation_invalid_per_page");
    expect((await list()).body.totalItems).toBe(5);
  });
});

describe("records API: write", () => {
  it("creates, views, updates and deletes", async () => {
    const created = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: {
        title: "new",
        views: "7",
        live: "true",
        publishedAt: "2024-05-01T10:20:30Z",
        site: "https://example.com/x",
        contact: "me@example.com",
        meta: [1, "two"],
        collectionName: "ignored",
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      title: "new",
      views: 7,
      live: true,
      publishedAt: "2024-05-01 10:20:30.000Z",
      meta: [1, "two"],
      collectionName: "posts",
    });
    expect(created.body.created).toBe(created.body.updated);
    const id = created.body.id;
    const viewed = await call("GET", `/api/collections/posts/records/${id}`, { tenant: T });
    expect(viewed.body).toEqual(created.body);

    const updated = await call("PATCH", `/api/collections/posts/records/${id}`, {
      tenant: T,
      body: { title: "newer", "views+": 3, "tags+": ["life", "news"], "tags-": "news" },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ title: "newer", views: 10, tags: ["life"], live: true });
    expect(updated.body.updated >= created.body.updated).toBe(true);

    const deleted = await call("DELETE", `/api/collections/posts/records/${id}`, { tenant: T });
    expect(deleted.status).toBe(204);
    expect((await call("GET", `/api/collections/posts/records/${id}`, { tenant: T })).status).toBe(
      404,
    );
    expect(
      (await call("DELETE", `/api/collections/posts/records/${id}`, { tenant: T })).status,
    ).toBe(404);
  });

  it("takes a client-chosen id and refuses a taken or malformed one", async () => {
    const id = "abcdefghij12345";
    expect(
      (
        await call("POST", "/api/collections/posts/records", {
          tenant: T,
          body: { id, title: "x" },
        })
      ).body.id,
    ).toBe(id);
    const taken = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: { id, title: "y" },
    });
    expect(taken.status).toBe(400);
    expect(taken.body.data.id.code).toBe("validation_pk_invalid");
    const bad = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: { id: "../x", title: "y" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.data.id.code).toBe("validation_invalid_format");
    const change = await call("PATCH", `/api/collections/posts/records/${id}`, {
      tenant: T,
      body: { id: "zzzzzzzzzzzzzzz" },
    });
    expect(change.status).toBe(400);
    expect(change.body.data.id.code).toBe("validation_pk_change");
    await call("DELETE", `/api/collections/posts/records/${id}`, { tenant: T });
  });

  it("reports validation errors per field, PocketBase style, and writes nothing", async () => {
    const before = (await list()).body.totalItems;
    const res = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: {
        title: "",
        views: -1,
        live: "maybe",
        tags: ["nope"],
        status: ["draft", "published"],
        site: "not a url",
        contact: "not-an-email",
        publishedAt: "yesterday",
        unknownField: 1,
      },
    });
    expect(res.status).toBe(400);
    expectErrorShape(res.body, 400);
    expect(res.body.data).toMatchObject({
      title: { code: "validation_required", message: "Cannot be blank." },
      views: { code: "validation_min_number_constraint" },
      live: { code: "validation_invalid_value" },
      tags: { code: "validation_invalid_value" },
      site: { code: "validation_invalid_url" },
      contact: { code: "validation_is_email" },
      publishedAt: { code: "validation_invalid_date" },
      unknownField: { code: "validation_unknown_field" },
    });
    const long = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: { title: "x".repeat(201) },
    });
    expect(long.body.data.title.code).toBe("validation_max_text_constraint");
    expect((await list()).body.totalItems).toBe(before);
  });

  it("answers malformed requests with clear 4xx", async () => {
    const raw = (
      rawBody: string,
      headers: Record<string, string> = { "content-type": "application/json" },
    ) => call("POST", "/api/collections/posts/records", { tenant: T, rawBody, headers });
    for (const body of ["{", "[1,2]", '"text"', "null", '{"title": }']) {
      const res = await raw(body);
      expect(res.status, body).toBe(400);
      expectErrorShape(res.body, 400);
    }
    const form = await raw("title=x", { "content-type": "application/x-www-form-urlencoded" });
    expect(form.status).toBe(400);
    const huge = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      body: { title: "x", body: "y".repeat(2 * 1024 * 1024) },
    });
    expect(huge.status).toBe(413);
    expectErrorShape(huge.body, 413);
    for (const id of ["short", "../../etc/passwd", "ABCDEFGHIJKLMNO", "a".repeat(500)]) {
      const res = await call("GET", `/api/collections/posts/records/${encodeURIComponent(id)}`, {
        tenant: T,
      });
      expect(res.status, id).toBe(404);
      expectErrorShape(res.body, 404);
    }
    const unknown = await call("GET", "/api/collections/nope/records", { tenant: T });
    expect(unknown.status).toBe(404);
    expectErrorShape(unknown.body, 404);
    const noTenant = await call("GET", "/api/collections/posts/records");
    expect(noTenant.status).toBe(400);
    expectErrorShape(noTenant.body, 400);
    const noSuchTenant = await call("GET", "/api/collections/posts/records", { tenant: "ghost" });
    expect(noSuchTenant.status).toBe(404);
    const route = await call("GET", "/api/nothing-here");
    expect(route.status).toBe(404);
    expectErrorShape(route.body, 404);
    // Still up and unchanged.
    expect((await call("GET", "/api/health")).status).toBe(200);
    expect((await list()).body.totalItems).toBe(5);
  });
});

describe("records API: prototype keys", () => {
  it("reports __proto__ and constructor as unknown fields", async () => {
    const res = await call("POST", "/api/collections/posts/records", {
      tenant: T,
      rawBody: '{"title":"p","__proto__":{"views":5},"constructor":1}',
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.data).sort()).toEqual(["__proto__", "constructor"]);
  });
});
