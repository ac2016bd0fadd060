import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  type Call,
  expectErrorShape,
  JWT_SECRET,
  signUp,
  startTestServer,
  type TestServer,
  usersCollection,
} from "./helpers.js";

const IDP_SECRET = "shared-secret-with-the-identity-provider";
const JWKS_ISSUER = "https://jwks.example";

let server: TestServer;
let call: Call;
let jwksServer: Server;
let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
let alice: { token: string; record: any };
let bob: { token: string; record: any };
let gina: { token: string; record: any };

beforeAll(async () => {
  rsa = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwksServer = createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  server = await startTestServer({
    identityProviders: [
      {
        issuer: "https://idp.example",
        audience: "tenantbase-api",
        secret: IDP_SECRET,
        tenantClaim: "org_id",
        roleClaim: "role",
      },
      { issuer: JWKS_ISSUER, audience: "tenantbase-api", jwksUrl },
    ],
  });
  call = apiClient(server);
  for (const name of ["acme", "globex"]) await call("POST", "/api/databases", { body: { name } });
  await call("POST", "/api/collections", { body: usersCollection });
  await call("POST", "/api/collections", {
    body: {
      name: "posts",
      fields: [
        { name: "title", type: "text" },
        { name: "owner", type: "text" },
      ],
      listRule: "",
      viewRule: "owner = @request.auth.id",
      createRule: "@request.body.owner = @request.auth.id",
      updateRule: "owner = @request.auth.id",
      deleteRule: "owner = @request.auth.id",
    },
  });
  await call("POST", "/api/collections", {
    body: {
      name: "reports",
      fields: [{ name: "title", type: "text" }],
      listRule: '@request.auth.role = "admin"',
      viewRule: null,
      createRule: null,
    },
  });
  await call("POST", "/api/collections", {
    body: {
      name: "notices",
      fields: [
        { name: "text", type: "text" },
        { name: "public", type: "bool" },
      ],
      listRule: "public = true",
    },
  });
  await call("POST", "/api/collections", { body: { name: "staff", type: "auth" } });
  alice = await signUp(call, "acme", "alice@acme.io", { role: "admin", name: "Alice" });
  bob = await signUp(call, "acme", "bob@acme.io", { role: "member" });
  gina = await signUp(call, "globex", "gina@globex.io", { role: "admin" });
  for (const title of ["r1", "r2"]) {
    await call("POST", "/api/collections/reports/records", { tenant: "acme", body: { title } });
  }
  await call("POST", "/api/collections/notices/records", {
    tenant: "acme",
    body: { text: "hi", public: true },
  });
  await call("POST", "/api/collections/notices/records", {
    tenant: "acme",
    body: { text: "secret" },
  });
});
afterAll(async () => {
  await server.stop();
  await new Promise((resolve) => jwksServer.close(resolve));
});

const asUser = (token: string, tenant?: string) => ({ token, ...(tenant ? { tenant } : {}) });

describe("auth with password", () => {
  it("signs a user in with PocketBase's response and a token naming the tenant", async () => {
    expect(alice.record).toMatchObject({
      collectionName: "users",
      email: "alice@acme.io",
      emailVisibility: false,
      verified: false,
      name: "Alice",
      role: "admin",
    });
    expect(alice.record.password).toBeUndefined();
    expect(alice.record.tokenKey).toBeUndefined();
    const claims = decodeJwt(alice.token);
    expect(claims).toMatchObject({
      sub: alice.record.id,
      tenant: "acme",
      collection: "users",
      collectionId: alice.record.collectionId,
      type: "auth",
    });
    expect(claims.exp! - claims.iat!).toBe(7 * 24 * 3600);
    // The identity is case-insensitive.
    const again = await call("POST", "/api/collections/users/auth-with-password", {
      token: null,
      tenant: "acme",
      body: { identity: "ALICE@acme.io", password: "password123" },
    });
    expect(again.status).toBe(200);
  });

  it("fails clearly, the same way for a wrong password and an unknown user", async () => {
    for (const body of [
      { identity: "alice@acme.io", password: "wrong-password" },
      { identity: "nobody@acme.io", password: "password123" },
      { identity: "gina@globex.io", password: "password123" },
    ]) {
      const res = await call("POST", "/api/collections/users/auth-with-password", {
        token: null,
        tenant: "acme",
        body,
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ status: 400, message: "Failed to authenticate.", data: {} });
    }
    const missing = await call("POST", "/api/collections/users/auth-with-password", {
      token: null,
      tenant: "acme",
      body: { identity: "alice@acme.io" },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.data.password.code).toBeTypeOf("string");
    const notAuth = await call("POST", "/api/collections/posts/auth-with-password", {
      token: null,
      tenant: "acme",
      body: { identity: "a@b.c", password: "x" },
    });
    expect(notAuth.status).toBe(404);
    const noTenant = await call("POST", "/api/collections/users/auth-with-password", {
      token: null,
      body: { identity: "alice@acme.io", password: "password123" },
    });
    expect(noTenant.status).toBe(400);
  });

  it("refreshes a user's token", async () => {
    const res = await call("POST", "/api/collections/users/auth-refresh", asUser(alice.token));
    expect(res.status).toBe(200);
    expect(res.body.record.id).toBe(alice.record.id);
    expect(decodeJwt(res.body.token).tenant).toBe("acme");
    expect(
      (await call("POST", "/api/collections/users/auth-refresh", { token: null, tenant: "acme" }))
        .status,
    ).toBe(401);
    expect(
      (await call("POST", "/api/collections/users/auth-refresh", { tenant: "acme" })).status,
    ).toBe(401);
    expect(
      (await call("POST", "/api/collections/staff/auth-refresh", asUser(alice.token))).status,
    ).toBe(403);
  });

  it("revokes a user's tokens when the password changes", async () => {
    const carol = await signUp(call, "acme", "carol@acme.io");
    const noOld = await call("PATCH", `/api/collections/users/records/${carol.record.id}`, {
      ...asUser(carol.token),
      body: { password: "new-password-1", passwordConfirm: "new-password-1" },
    });
    expect(noOld.status).toBe(400);
    expect(noOld.body.data.oldPassword.code).toBe("validation_required");
    const wrongOld = await call("PATCH", `/api/collections/users/records/${carol.record.id}`, {
      ...asUser(carol.token),
      body: {
        password: "new-password-1",
        passwordConfirm: "new-password-1",
        oldPassword: "nope-nope",
      },
    });
    expect(wrongOld.body.data.oldPassword.code).toBe("validation_invalid_old_password");
    const changed = await call("PATCH", `/api/collections/users/records/${carol.record.id}`, {
      ...asUser(carol.token),
      body: {
        password: "new-password-1",
        passwordConfirm: "new-password-1",
        oldPassword: "password123",
      },
    });
    expect(changed.status).toBe(200);
    const old = await call("GET", "/api/collections/users/records", asUser(carol.token));
    expect(old.status).toBe(401);
    const signIn = await call("POST", "/api/collections/users/auth-with-password", {
      token: null,
      tenant: "acme",
      body: { identity: "carol@acme.io", password: "new-password-1" },
    });
    expect(signIn.status).toBe(200);
  });
});

describe("tenant resolution (invariant 6)", () => {
  it("takes the tenant from the token; an x-dbname naming another is a 403", async () => {
    const own = await call("GET", "/api/collections/users/records", asUser(alice.token));
    expect(own.status).toBe(200);
    expect(own.body.items.map((u: any) => u.email)).toEqual(["alice@acme.io"]);
    expect(
      (await call("GET", "/api/collections/users/records", asUser(alice.token, "acme"))).status,
    ).toBe(200);
    for (const other of ["globex", "Acme", "acme/", "nope"]) {
      const res = await call("GET", "/api/collections/users/records", asUser(alice.token, other));
      expect(res.status, other).toBe(403);
      expectErrorShape(res.body, 403);
    }
    // The bare token, as the PocketBase SDK sends it.
    const bare = await fetch(`${server.url}/api/collections/users/records`, {
      headers: { authorization: gina.token },
    });
    expect((await bare.json()).items.map((u: any) => u.email)).toEqual(["gina@globex.io"]);
  });

  it("refuses expired, forged, unsigned and misdirected tokens with 401", async () => {
    const key = new TextEncoder().encode(JWT_SECRET);
    const claims = {
      tenant: "acme",
      collection: "users",
      collectionId: alice.record.collectionId,
      tk: decodeJwt(alice.token).tk,
    };
    const sign = (build: (jwt: SignJWT) => SignJWT, secret = key) =>
      build(
        new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(alice.record.id),
      ).sign(secret);
    const tokens = {
      expired: await sign((j) =>
        j
          .setIssuer("tenantbase")
          .setAudience("tenantbase")
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60),
      ),
      wrongSecret: await sign(
        (j) => j.setIssuer("tenantbase").setAudience("tenantbase").setExpirationTime("1h"),
        new TextEncoder().encode("another-secret-of-enough-length"),
      ),
      wrongAudience: await sign((j) =>
        j.setIssuer("tenantbase").setAudience("someone-else").setExpirationTime("1h"),
      ),
      unknownIssuer: await sign((j) =>
        j.setIssuer("https://evil.example").setAudience("tenantbase").setExpirationTime("1h"),
      ),
      noExpiry: await sign((j) => j.setIssuer("tenantbase").setAudience("tenantbase")),
      algNone: new UnsecuredJWT({
        ...claims,
        sub: alice.record.id,
        iss: "tenantbase",
        aud: "tenantbase",
      })
        .setExpirationTime("1h")
        .encode(),
      tampered: `${alice.token.split(".")[0]}.${Buffer.from(JSON.stringify({ ...decodeJwt(alice.token), tenant: "globex" })).toString("base64url")}.${alice.token.split(".")[2]}`,
      garbage: "not.a.jwt",
      empty: " ",
    };
    for (const [name, token] of Object.entries(tokens)) {
      const res = await fetch(`${server.url}/api/collections/users/records`, {
        headers: { authorization: `Bearer ${token}`, "x-dbname": "acme" },
      });
      expect(res.status, name).toBe(401);
      expectErrorShape(await res.json(), 401);
    }
  });

  it("treats hostile x-dbname values as values", async () => {
    for (const name of [
      "../acme",
      "acme/..",
      "acme\\..",
      "%61cme",
      "ACME",
      "acme;drop",
      "x".repeat(200),
    ]) {
      const res = await call("GET", "/api/collections/users/records", { tenant: name });
      expect([400, 404], name).toContain(res.status);
      expectErrorShape(res.body, res.status);
    }
    const latin1 = await fetch(`${server.url}/api/collections/users/records`, {
      headers: { authorization: "Bearer test-admin-token-0123456789", "x-dbname": "caf\u00e9" },
    });
    expect(latin1.status).toBe(400);
    expect((await call("GET", "/api/health")).status).toBe(200);
  });
});

describe("rules", () => {
  it("null is superusers only; empty is any user of the tenant; anonymous gets what rules allow", async () => {
    expect(
      (
        await call("POST", "/api/collections/reports/records", {
          ...asUser(alice.token),
          body: { title: "x" },
        })
      ).status,
    ).toBe(403);
    expect((await call("GET", "/api/collections/posts/records", asUser(bob.token))).status).toBe(
      200,
    );
    const anonymous = await call("GET", "/api/collections/posts/records", {
      token: null,
      tenant: "acme",
    });
    expect(anonymous.status).toBe(401);
    expectErrorShape(anonymous.body, 401);
    const publicOnly = await call("GET", "/api/collections/notices/records", {
      token: null,
      tenant: "acme",
    });
    expect(publicOnly.status).toBe(200);
    expect(publicOnly.body.items.map((n: any) => n.text)).toEqual(["hi"]);
    const anonymousUsers = await call("GET", "/api/collections/users/records", {
      token: null,
      tenant: "acme",
    });
    expect(anonymousUsers.body.items).toEqual([]);
    const anonymousCreate = await call("POST", "/api/collections/reports/records", {
      token: null,
      tenant: "acme",
      body: { title: "x" },
    });
    expect(anonymousCreate.status).toBe(403);
  });

  it("reads @request.auth.role and @request.auth.id", async () => {
    const admin = await call("GET", "/api/collections/reports/records", asUser(alice.token));
    expect(admin.body.totalItems).toBe(2);
    const member = await call("GET", "/api/collections/reports/records", asUser(bob.token));
    expect(member.body.totalItems).toBe(0);
    const view = await call(
      "GET",
      `/api/collections/users/records/${bob.record.id}`,
      asUser(alice.token),
    );
    expect(view.status).toBe(404);
    const self = await call(
      "GET",
      `/api/collections/users/records/${bob.record.id}`,
      asUser(bob.token),
    );
    expect(self.body.email).toBe("bob@acme.io");
  });

  it("checks create, update and delete rules against the body and the record", async () => {
    const mine = await call("POST", "/api/collections/posts/records", {
      ...asUser(bob.token),
      body: { title: "mine", owner: bob.record.id },
    });
    expect(mine.status).toBe(200);
    const forged = await call("POST", "/api/collections/posts/records", {
      ...asUser(bob.token),
      body: { title: "forged", owner: alice.record.id },
    });
    expect(forged.status).toBe(400);
    expectErrorShape(forged.body, 400);
    const id = mine.body.id;
    const stolen = await call("PATCH", `/api/collections/posts/records/${id}`, {
      ...asUser(alice.token),
      body: { title: "stolen" },
    });
    expect(stolen.status).toBe(404);
    expect(
      (await call("DELETE", `/api/collections/posts/records/${id}`, asUser(alice.token))).status,
    ).toBe(404);
    expect(
      (await call("GET", `/api/collections/posts/records/${id}`, asUser(alice.token))).status,
    ).toBe(404);
    const titles = (
      await call("GET", "/api/collections/posts/records", { tenant: "acme" })
    ).body.items.map((p: any) => p.title);
    expect(titles).toEqual(["mine"]);
    expect(
      (
        await call("PATCH", `/api/collections/posts/records/${id}`, {
          ...asUser(bob.token),
          body: { title: "edited" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await call("DELETE", `/api/collections/posts/records/${id}`, asUser(bob.token))).status,
    ).toBe(204);
  });

  it("lets only superusers set verified, and hides other users' emails", async () => {
    const self = await call("PATCH", `/api/collections/users/records/${bob.record.id}`, {
      ...asUser(bob.token),
      body: { verified: true },
    });
    expect(self.status).toBe(400);
    expect(self.body.data.verified.code).toBe("validation_forbidden");
    const admin = await call("PATCH", `/api/collections/users/records/${bob.record.id}`, {
      tenant: "acme",
      body: { verified: true, emailVisibility: false },
    });
    expect(admin.body.verified).toBe(true);
  });
});

describe("external identity providers", () => {
  const idpToken = (claims: Record<string, unknown>, build?: (jwt: SignJWT) => SignJWT) => {
    let jwt = new SignJWT({ org_id: "acme", role: "admin", ...claims })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://idp.example")
      .setAudience("tenantbase-api")
      .setSubject("idp-user-1")
      .setExpirationTime("1h");
    if (build) jwt = build(jwt);
    return jwt.sign(new TextEncoder().encode(IDP_SECRET));
  };

  it("accepts a verified provider token: tenant and role from its claims", async () => {
    const token = await idpToken({});
    const reports = await call("GET", "/api/collections/reports/records", asUser(token));
    expect(reports.status).toBe(200);
    expect(reports.body.totalItems).toBe(2);
    const member = await idpToken({ role: "member" });
    expect(
      (await call("GET", "/api/collections/reports/records", asUser(member))).body.totalItems,
    ).toBe(0);
    const own = await call("POST", "/api/collections/posts/records", {
      ...asUser(token),
      body: { title: "by idp", owner: "idp-user-1" },
    });
    expect(own.status).toBe(200);
    expect(
      (await call("GET", "/api/collections/reports/records", asUser(token, "globex"))).status,
    ).toBe(403);
    const globex = await idpToken({ org_id: "globex" });
    expect(
      (await call("GET", "/api/collections/reports/records", asUser(globex))).body.totalItems,
    ).toBe(0);
  });

  it("refuses provider tokens that do not verify", async () => {
    const bad = {
      wrongAudience: await idpToken({}, (j) => j.setAudience("other")),
      expired: await idpToken({}, (j) => j.setExpirationTime(Math.floor(Date.now() / 1000) - 10)),
      noTenant: await idpToken({ org_id: undefined }),
      wrongSecret: await new SignJWT({ org_id: "acme" })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("https://idp.example")
        .setAudience("tenantbase-api")
        .setSubject("x")
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode("not-the-shared-secret-at-all")),
    };
    for (const [name, token] of Object.entries(bad)) {
      const res = await call("GET", "/api/collections/reports/records", asUser(token));
      expect(res.status, name).toBe(401);
    }
  });

  it("verifies tokens against a JWKS URL", async () => {
    const signRsa = (key: CryptoKey, alg = "RS256") =>
      new SignJWT({ tenant: "acme", role: "admin" })
        .setProtectedHeader({ alg, kid: "k1" })
        .setIssuer(JWKS_ISSUER)
        .setAudience("tenantbase-api")
        .setSubject("jwks-user")
        .setExpirationTime("1h")
        .sign(key);
    const good = await signRsa(rsa.privateKey);
    const res = await call("GET", "/api/collections/reports/records", asUser(good));
    expect(res.status).toBe(200);
    expect(res.body.totalItems).toBe(2);
    const other = await generateKeyPair("RS256");
    expect(
      (
        await call(
          "GET",
          "/api/collections/reports/records",
          asUser(await signRsa(other.privateKey)),
        )
      ).status,
    ).toBe(401);
    // Algorithm confusion: an HS256 token keyed with the public key must not pass.
    const publicJwk = await exportJWK(rsa.publicKey);
    const confused = await new SignJWT({ tenant: "acme" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer(JWKS_ISSUER)
      .setAudience("tenantbase-api")
      .setSubject("x")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    expect((await call("GET", "/api/collections/reports/records", asUser(confused))).status).toBe(
      401,
    );
  });
});
