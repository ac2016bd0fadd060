import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  type Call,
  signUp,
  startTestServer,
  type TestServer,
  usersCollection,
} from "./helpers.js";

let server: TestServer;
let call: Call;
const ids: Record<string, string[]> = { acme: [], globex: [] };
let alice: { token: string; record: any };

beforeAll(async () => {
  server = await startTestServer();
  call = apiClient(server);
  for (const name of ["acme", "globex"]) await call("POST", "/api/databases", { body: { name } });
  await call("POST", "/api/collections", { body: usersCollection });
  await call("POST", "/api/collections", {
    body: {
      name: "posts",
      fields: [
        { name: "title", type: "text" },
        { name: "secret", type: "text" },
        { name: "refs", type: "relation", collectionId: "posts", maxSelect: 5 },
      ],
      listRule: "",
      viewRule: "",
      createRule: "",
      updateRule: "",
      deleteRule: "",
    },
  });
  for (const tenant of ["acme", "globex"]) {
    for (let i = 0; i < 3; i++) {
      const res = await call("POST", "/api/collections/posts/records", {
        tenant,
        body: { title: `${tenant}-${i}`, secret: `${tenant}-secret-${i}` },
      });
      ids[tenant]!.push(res.body.id);
    }
  }
  alice = await signUp(call, "acme", "alice@acme.io");
});
afterAll(() => server.stop());

const titles = (res: { body: any }) => res.body.items.map((r: any) => r.title as string);

describe("isolation through the API", () => {
  it("two tenants with the same collection never see each other's rows", async () => {
    for (const tenant of ["acme", "globex"]) {
      const res = await call("GET", "/api/collections/posts/records?perPage=100", { tenant });
      expect(res.body.totalItems).toBe(3);
      expect(titles(res).every((t: string) => t.startsWith(`${tenant}-`))).toBe(true);
    }
  });

  it("filter, sort and id tricks stay inside the tenant", async () => {
    const tricks = [
      'id != ""',
      "1 = 1 || 1 = 1",
      'title ~ "%"',
      'secret ~ "globex"',
      `id = "${ids.globex![0]}"`,
      '@request.headers.x_dbname = "globex"',
      'title = "x" || 1=1 --',
      "title = 'a'' OR ''1''=''1'",
      'title = "\\" OR 1=1 --"',
    ];
    for (const filter of tricks) {
      const res = await call(
        "GET",
        `/api/collections/posts/records?filter=${encodeURIComponent(filter)}`,
        {
          tenant: "acme",
        },
      );
      expect([200, 400], filter).toContain(res.status);
      if (res.status === 200) {
        for (const t of titles(res)) expect(t.startsWith("acme-"), filter).toBe(true);
      }
    }
    const foreign = ids.globex![0]!;
    expect(
      (await call("GET", `/api/collections/posts/records/${foreign}`, { tenant: "acme" })).status,
    ).toBe(404);
    expect(
      (
        await call("PATCH", `/api/collections/posts/records/${foreign}`, {
          tenant: "acme",
          body: { title: "pwned" },
        })
      ).status,
    ).toBe(404);
    expect(
      (await call("DELETE", `/api/collections/posts/records/${foreign}`, { tenant: "acme" }))
        .status,
    ).toBe(404);
    const still = await call("GET", `/api/collections/posts/records/${foreign}`, {
      tenant: "globex",
    });
    expect(still.body.title).toBe("globex-0");
    // A relation cannot point into another tenant.
    const rel = await call("POST", "/api/collections/posts/records", {
      tenant: "acme",
      body: { title: "acme-rel", refs: [ids.acme![0], foreign] },
    });
    expect(rel.status).toBe(400);
    expect(rel.body.data.refs.code).toBe("validation_missing_rel_records");
  });

  it("a tenant user reaches only its own tenant", async () => {
    const own = await call("GET", "/api/collections/posts/records", { token: alice.token });
    expect(titles(own).every((t: string) => t.startsWith("acme-"))).toBe(true);
    const cross = await call("GET", "/api/collections/posts/records", {
      token: alice.token,
      tenant: "globex",
    });
    expect(cross.status).toBe(403);
    const byId = await call("GET", `/api/collections/posts/records/${ids.globex![1]}`, {
      token: alice.token,
    });
    expect(byId.status).toBe(404);
  });

  it("random filters never leak another tenant's rows nor break the server", async () => {
    const token = fc.constantFrom(
      "id",
      "title",
      "secret",
      "refs",
      "refs:each",
      "@request.auth.id",
      "@request.body.x",
      "created",
      "=",
      "!=",
      "~",
      "!~",
      ">",
      "<",
      "?=",
      "&&",
      "||",
      "(",
      ")",
      '"globex"',
      "'acme'",
      '"%"',
      "1",
      "-1",
      "null",
      "true",
      "//",
      "\\",
      '"',
      "'",
      ";",
      "--",
      "OR",
      "*",
    );
    await fc.assert(
      fc.asyncProperty(fc.array(token, { minLength: 1, maxLength: 9 }), async (parts) => {
        const filter = parts.join(" ");
        const res = await call(
          "GET",
          `/api/collections/posts/records?filter=${encodeURIComponent(filter)}`,
          {
            tenant: "acme",
          },
        );
        expect([200, 400]).toContain(res.status);
        if (res.status === 200) {
          for (const item of res.body.items) expect(item.title.startsWith("acme-")).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    expect(
      (await call("GET", "/api/collections/posts/records", { tenant: "globex" })).body.totalItems,
    ).toBe(3);
  });
});
