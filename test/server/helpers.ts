import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import {
  createTenantbase,
  type Migration,
  type PoolOptions,
  sqlite,
  type Tenantbase,
} from "../../src/index.js";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server/index.js";

export const JWT_SECRET = "test-jwt-secret-of-enough-length";
export const ADMIN_TOKEN = "test-admin-token-0123456789";

export interface TestServer extends RunningServer {
  hub: Tenantbase;
  dir: string;
  /** Stops the server, closes the hub, removes the data. */
  stop(): Promise<void>;
}

export interface TestServerOptions extends Partial<Omit<ServerOptions, "hub">> {
  migrations?: Migration[];
  pool?: PoolOptions;
  dir?: string;
}

/** A real server on a random loopback port over a fresh data directory. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "tenantbase-server-"));
  const hub = createTenantbase({
    driver: sqlite({ dir: join(dir, "data") }),
    ...(options.migrations ? { migrations: options.migrations } : {}),
    ...(options.pool ? { pool: options.pool } : {}),
  });
  const server = await startServer({
    adminToken: ADMIN_TOKEN,
    jwtSecret: JWT_SECRET,
    logger: pino({ level: "silent" }),
    ...options,
    hub,
    port: 0,
    host: "127.0.0.1",
  });
  return {
    ...server,
    hub,
    dir,
    async stop() {
      await server.close();
      await hub.close();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (for malformed JSON and the like). */
  rawBody?: string;
  /** "admin" for the admin token, a token, or null for none. */
  token?: string | null;
  tenant?: string;
  headers?: Record<string, string>;
}

/** Real HTTP with fetch; JSON in and out. */
export function apiClient(server: { url: string }) {
  return async function call<T = any>(
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? "admin" : options.token;
    if (token) headers.authorization = `Bearer ${token === "admin" ? ADMIN_TOKEN : token}`;
    if (options.tenant !== undefined) headers["x-dbname"] = options.tenant;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    const response = await fetch(server.url + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text for the assertion to show.
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
}

export type Call = ReturnType<typeof apiClient>;

/** PocketBase's error shape. */
export function expectErrorShape(body: any, status: number): void {
  if (
    typeof body !== "object" ||
    body === null ||
    body.status !== status ||
    typeof body.message !== "string" ||
    body.message.length === 0 ||
    typeof body.data !== "object" ||
    body.data === null
  ) {
    throw new Error(`not a PocketBase error body with status ${status}: ${JSON.stringify(body)}`);
  }
}

export const postsCollection = {
  name: "posts",
  fields: [
    { name: "title", type: "text", required: true, max: 200 },
    { name: "body", type: "editor" },
    { name: "views", type: "number", min: 0 },
    { name: "live", type: "bool" },
    { name: "tags", type: "select", values: ["news", "tech", "life"], maxSelect: 3 },
    { name: "status", type: "select", values: ["draft", "published"] },
    { name: "meta", type: "json" },
    { name: "site", type: "url" },
    { name: "contact", type: "email" },
    { name: "publishedAt", type: "date" },
  ],
  listRule: "",
  viewRule: "",
  createRule: "",
  updateRule: "",
  deleteRule: "",
};

export const usersCollection = {
  name: "users",
  type: "auth",
  fields: [
    { name: "name", type: "text" },
    { name: "role", type: "select", values: ["admin", "member"] },
  ],
  listRule: "id = @request.auth.id",
  viewRule: "id = @request.auth.id",
  createRule: null,
  updateRule: "id = @request.auth.id",
  deleteRule: null,
};

/** Creates a user (as superuser) and signs it in; returns the token and record. */
export async function signUp(
  call: Call,
  tenant: string,
  email: string,
  extra: Record<string, unknown> = {},
  password = "password123",
): Promise<{ token: string; record: any }> {
  const created = await call("POST", "/api/collections/users/records", {
    tenant,
    body: { email, password, passwordConfirm: password, ...extra },
  });
  if (created.status !== 200) throw new Error(`sign up failed: ${JSON.stringify(created.body)}`);
  const auth = await call("POST", "/api/collections/users/auth-with-password", {
    tenant,
    token: null,
    body: { identity: email, password },
  });
  if (auth.status !== 200) throw new Error(`sign in failed: ${JSON.stringify(auth.body)}`);
  return auth.body;
}
