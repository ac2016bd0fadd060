import PocketBase, { ClientResponseError } from "pocketbase";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startTestServer, type TestServer, usersCollection } from "./helpers.js";

let server: TestServer;

/** The official SDK as a superuser: the admin token, and x-dbname added in beforeSend. */
function superuserClient(tenant?: string): PocketBase {
  const pb = new PocketBase(server.url);
  pb.autoCancellation(false);
  pb.authStore.save(ADMIN_TOKEN);
  if (tenant) {
    pb.beforeSend = (url, options) => {
      options.headers = { ...(options.headers as Record<string, string>), "x-dbname": tenant };
      return { url, options };
    };
  }
  return pb;
}

beforeAll(async () => {
  server = await startTestServer();
  const pb = superuserClient();
  for (const name of ["acme", "globex"]) {
    await pb.send("/api/databases", { method: "POST", body: { name } });
  }
  await pb.collections.create(usersCollection);
  await pb.collections.create({
    name: "tasks",
    fields: [
      { name: "title", type: "text", required: true },
      { name: "done", type: "bool" },
      { name: "priority", type: "number" },
      { name: "owner", type: "relation", collectionId: "users" },
      { name: "labels", type: "select", values: ["bug", "feature", "chore"], maxSelect: 3 },
    ],
    listRule: "owner = @request.auth.id",
    viewRule: "owner = @request.auth.id",
    createRule: "@request.body.owner = @request.auth.id",
    updateRule: "owner = @request.auth.id",
    deleteRule: "owner = @request.auth.id",
  });
});
afterAll(() => server.stop());

describe("the official pocketbase SDK", () => {
  it("works as a superuser with x-dbname from beforeSend", async () => {
    expect((await superuserClient().health.check()).code).toBe(200);
    const collections = await superuserClient().collections.getFullList();
    expect(collections.map((c) => c.name)).toEqual(["users", "tasks"]);

    const acme = superuserClient("acme");
    const user = await acme.collection("users").create({
      email: "owner@acme.io",
      password: "password123",
      passwordConfirm: "password123",
      role: "admin",
    });
    const tasks = acme.collection("tasks");
    for (const [i, title] of ["write", "test", "ship"].entries()) {
      await tasks.create({
        title,
        priority: i + 1,
        owner: user.id,
        labels: i === 2 ? ["feature"] : ["chore"],
      });
    }
    const page = await tasks.getList(1, 2, { sort: "-priority" });
    expect(page).toMatchObject({ page: 1, perPage: 2, totalItems: 3, totalPages: 2 });
    expect(page.items.map((t) => t.title)).toEqual(["ship", "test"]);
    const filtered = await tasks.getList(1, 20, {
      filter: acme.filter("priority >= {:min} && labels ?= {:label}", { min: 2, label: "chore" }),
    });
    expect(filtered.items.map((t) => t.title)).toEqual(["test"]);
    const all = await tasks.getFullList({ sort: "title" });
    expect(all.map((t) => t.title)).toEqual(["ship", "test", "write"]);
    const first = await tasks.getFirstListItem('title = "write"');
    expect(first.priority).toBe(1);
    const updated = await tasks.update(first.id, { done: true, "priority+": 10 });
    expect(updated).toMatchObject({ done: true, priority: 11 });
    expect(await tasks.getOne(first.id)).toMatchObject({ done: true });
    expect(await tasks.delete(first.id)).toBe(true);
    const missing = await tasks.getOne(first.id).catch((e) => e);
    expect(missing).toBeInstanceOf(ClientResponseError);
    expect(missing.status).toBe(404);
    // The other tenant has none of it.
    expect((await superuserClient("globex").collection("tasks").getList()).totalItems).toBe(0);
  });

  it("works for a tenant user: auth with password, then the token picks the tenant", async () => {
    const admin = superuserClient("globex");
    await admin.collection("users").create({
      email: "gina@globex.io",
      password: "password123",
      passwordConfirm: "password123",
    });
    const pb = new PocketBase(server.url);
    pb.autoCancellation(false);
    // Only the sign-in names the tenant; afterwards the token does.
    pb.beforeSend = (url, options) => {
      options.headers = { ...(options.headers as Record<string, string>), "x-dbname": "globex" };
      return { url, options };
    };
    const auth = await pb.collection("users").authWithPassword("gina@globex.io", "password123");
    pb.beforeSend = undefined;
    expect(pb.authStore.isValid).toBe(true);
    expect(pb.authStore.record?.email).toBe("gina@globex.io");
    expect(auth.record.collectionName).toBe("users");

    const tasks = pb.collection("tasks");
    const created = await tasks.create({ title: "mine", owner: auth.record.id, labels: ["bug"] });
    expect(created.owner).toBe(auth.record.id);
    const list = await tasks.getList(1, 10, { filter: 'title ~ "mi"', sort: "-created" });
    expect(list.items.map((t) => t.title)).toEqual(["mine"]);
    await tasks.update(created.id, { title: "mine, edited" });
    expect((await tasks.getOne(created.id)).title).toBe("mine, edited");

    const invalid = await tasks.create({ title: "", owner: auth.record.id }).catch((e) => e);
    expect(invalid).toBeInstanceOf(ClientResponseError);
    expect(invalid.status).toBe(400);
    expect(invalid.response.data.title.code).toBe("validation_required");
    const forged = await tasks.create({ title: "x", owner: "aaaaaaaaaaaaaaa" }).catch((e) => e);
    expect(forged.status).toBe(400);

    const oldToken = pb.authStore.token;
    await pb.collection("users").authRefresh();
    expect(pb.authStore.isValid).toBe(true);
    expect(typeof oldToken).toBe("string");
    expect(await tasks.delete(created.id)).toBe(true);
    expect((await tasks.getList()).totalItems).toBe(0);

    // A user token with another tenant's x-dbname is refused.
    pb.beforeSend = (url, options) => {
      options.headers = { ...(options.headers as Record<string, string>), "x-dbname": "acme" };
      return { url, options };
    };
    const cross = await tasks.getList().catch((e) => e);
    expect(cross.status).toBe(403);
  });
});
