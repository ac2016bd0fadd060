import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConflictError,
  encodeTenantHeader,
  ForbiddenError,
  NetworkError,
  NotFoundError,
  TenantbaseClient,
  UnauthorizedError,
  ValidationError,
} from "../../src/client/index.js";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "../server/helpers.js";

let server: TestServer;
let admin: TenantbaseClient;

beforeAll(async () => {
  server = await startTestServer();
  admin = new TenantbaseClient(server.url, { token: ADMIN_TOKEN });
});
afterAll(() => server.stop());

describe("TenantbaseClient", () => {
  it("manages databases and collections as a superuser", async () => {
    expect((await admin.health()).code).toBe(200);
    const created = await admin.settings.databases.create({ name: "acme" });
    expect(created).toMatchObject({ name: "acme", status: "active" });
    await admin.settings.databases.create({ name: "globex" });
    await admin.settings.databases.create({ name: "Ünïcødé 😀" });
    await admin.settings.databases.create({ name: ".." });
    expect((await admin.settings.databases.list()).map((d) => d.name).sort()).toEqual(
      ["..", "acme", "globex", "Ünïcødé 😀"].sort(),
    );
    await expect(admin.settings.databases.create({ name: "acme" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(await admin.settings.databases.delete("..")).toBe(true);
    await expect(admin.settings.databases.delete("nope")).rejects.toBeInstanceOf(NotFoundError);

    await admin.settings.collections.create({
      name: "users",
      type: "auth",
      fields: [{ name: "name", type: "text" }],
      listRule: "id = @request.auth.id",
      viewRule: "id = @request.auth.id",
    });
    const posts = await admin.settings.collections.create({
      name: "posts",
      fields: [
        { name: "title", type: "text", required: true },
        { name: "rank", type: "number" },
      ],
      listRule: "",
      viewRule: "",
      createRule: "",
      updateRule: "",
      deleteRule: "",
    });
    expect(posts.fields.map((f) => f.name)).toEqual(["id", "title", "rank", "created", "updated"]);
    const changed = await admin.settings.collections.update("posts", {
      fields: [{ name: "tags", type: "json" }],
    });
    expect(changed.fields.map((f) => f.name)).toContain("tags");
    expect((await admin.settings.collections.list()).map((c) => c.name)).toEqual([
      "users",
      "posts",
    ]);
    const invalid = await admin.settings.collections.create({ name: "bad name" }).catch((e) => e);
    expect(invalid).toBeInstanceOf(ValidationError);
    expect(invalid.fieldError("name")?.code).toBeTypeOf("string");
  });

  it("reads and writes records of a named database", async () => {
    const acme = admin.db("acme").collection("posts");
    for (const [rank, title] of ["one", "two", "three"].entries())
      await acme.create({ title, rank });
    await admin.db("globex").collection("posts").create({ title: "globex only" });
    const page = await acme.getList(1, 2, {
      sort: "-rank",
      filter: admin.filter("rank >= {:r}", { r: 0 }),
    });
    expect(page).toMatchObject({ page: 1, perPage: 2, totalItems: 3, totalPages: 2 });
    expect(page.items.map((p) => p.title)).toEqual(["three", "two"]);
    expect((await acme.getList(1, 10, { skipTotal: true })).totalItems).toBe(-1);
    const full = await acme.getFullList({ batch: 2, sort: "title" });
    expect(full.map((p) => p.title)).toEqual(["one", "three", "two"]);
    const two = await acme.getFirstListItem('title = "two"');
    expect(await acme.getOne(two.id, { fields: "title" })).toEqual({ title: "two" });
    expect((await acme.update(two.id, { rank: 20 })).rank).toBe(20);
    expect(await acme.delete(two.id)).toBe(true);
    await expect(acme.getOne(two.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(acme.getFirstListItem('title = "none"')).rejects.toBeInstanceOf(NotFoundError);
    const bad = await acme.create({ title: "" }).catch((e) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect(bad.status).toBe(400);
    expect(bad.fieldError("title")).toEqual({
      code: "validation_required",
      message: "Cannot be blank.",
    });
    // Non-ASCII database names travel as UTF-8 in x-dbname.
    const unicode = admin.db("Ünïcødé 😀").collection("posts");
    await unicode.create({ title: "ü" });
    expect((await unicode.getList()).items.map((p) => p.title)).toEqual(["ü"]);
    expect(encodeTenantHeader("é")).toBe("\u00c3\u00a9");
  });

  it("signs a tenant user in; its token then picks the tenant", async () => {
    await admin.db("acme").collection("users").create({
      email: "ann@acme.io",
      password: "password123",
      passwordConfirm: "password123",
    });
    const user = new TenantbaseClient(server.url);
    const auth = await user
      .db("acme")
      .collection("users")
      .authWithPassword("ann@acme.io", "password123");
    expect(auth.record.email).toBe("ann@acme.io");
    expect(user.token).toBe(auth.token);
    expect(user.authRecord?.id).toBe(auth.record.id);
    const titles = (await user.collection("posts").getList()).items.map((p) => p.title);
    expect(titles.sort()).toEqual(["one", "three"]);
    expect((await user.db("acme").collection("posts").getList()).totalItems).toBe(2);
    await expect(user.db("globex").collection("posts").getList()).rejects.toBeInstanceOf(
      ForbiddenError,
    );
    const refreshed = await user.collection("users").authRefresh();
    expect(refreshed.record.id).toBe(auth.record.id);
    const wrong = new TenantbaseClient(server.url);
    await expect(
      wrong.db("acme").collection("users").authWithPassword("ann@acme.io", "nope-nope"),
    ).rejects.toBeInstanceOf(ValidationError);
    user.logout();
    await expect(user.settings.databases.list()).rejects.toBeInstanceOf(UnauthorizedError);
    const forged = new TenantbaseClient(server.url, { token: "forged.token.value" });
    await expect(forged.collection("posts").getList()).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it("reports network failures as NetworkError", async () => {
    const nowhere = new TenantbaseClient("http://127.0.0.1:1");
    const error = await nowhere.health().catch((e) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.status).toBe(0);
    const controller = new AbortController();
    controller.abort();
    const aborted = await admin
      .db("acme")
      .collection("posts")
      .getList(1, 1, { signal: controller.signal })
      .catch((e) => e);
    expect(aborted).toBeInstanceOf(NetworkError);
    expect(aborted.isAbort).toBe(true);
  });

  it("is browser-safe: no Node-only imports or globals", () => {
    const dir = join(import.meta.dirname, "..", "..", "src", "client");
    for (const file of readdirSync(dir)) {
      // Code only: comments may show usage from the package.
      const source = readFileSync(join(dir, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "");
      const imports = [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
      for (const spec of imports) expect(spec, `${file}: ${spec}`).toMatch(/^\.\/[a-z-]+\.js$/);
      expect(source, file).not.toMatch(/\b(Buffer|process|require|__dirname)\b/);
    }
  });
});
