/**
 * GET /api/docs: the OpenAPI 3.1 document of this API, generated from the
 * zod schemas the server validates with (built once, on first request).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { collectionCreateSchema, collectionUpdateSchema } from "../../collections/schema.js";
import type { AppEnv } from "../env.js";
import {
  apiErrorSchema,
  authResponseSchema,
  authWithPasswordSchema,
  databaseCreateSchema,
  databaseSchema,
  healthSchema,
  listQuerySchema,
  recordListSchema,
  recordSchema,
} from "../schemas.js";
import { signupSchema } from "./signup.js";

const COMPONENTS: Record<string, z.ZodType> = {
  ApiError: apiErrorSchema,
  Database: databaseSchema,
  DatabaseCreate: databaseCreateSchema,
  CollectionCreate: collectionCreateSchema,
  CollectionUpdate: collectionUpdateSchema,
  Record: recordSchema,
  RecordList: recordListSchema,
  AuthWithPassword: authWithPasswordSchema,
  AuthResponse: authResponseSchema,
  Health: healthSchema,
  RealtimeSubscriptions: z.object({
    clientId: z.string(),
    subscriptions: z
      .array(z.string())
      .describe("Topics: <collection>/*, <collection>/<id>, events/<name>"),
  }),
  Signup: signupSchema,
};

const ref = (name: keyof typeof COMPONENTS) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof COMPONENTS, description = "OK") => ({
  description,
  content: { "application/json": { schema: ref(name) } },
});
const errors = Object.fromEntries(
  [
    ["400", "Invalid input (PocketBase error shape; validation errors in data.<field>)"],
    ["401", "Missing or invalid credential"],
    ["403", "Not allowed (rule, role, or x-dbname naming another tenant)"],
    ["404", "Not found"],
    ["413", "Body too large"],
    ["503", "Tenant unavailable (failed migration)"],
  ].map(([status, description]) => [status, json("ApiError", description)]),
);
const body = (name: keyof typeof COMPONENTS) => ({
  required: true,
  content: { "application/json": { schema: ref(name) } },
});
const tenantHeader = {
  name: "x-dbname",
  in: "header",
  required: false,
  description:
    "Tenant key (UTF-8 bytes). Required for superusers and anonymous callers; tenant users' tokens name their tenant.",
  schema: { type: "string" },
};
const pathParam = (name: string, description: string) => ({
  name,
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});
const collection = pathParam("collection", "Collection name or id");

function listParameters() {
  const shape = listQuerySchema.shape;
  return Object.entries(shape).map(([name, schema]) => ({
    name,
    in: "query",
    required: false,
    description: schema.description,
    schema: { type: "string" },
  }));
}

function buildDocument(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, {
    uri: (id) => `#/components/schemas/${id}`,
    unrepresentable: "any",
  });
  const schemas: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _schema, $id: _id, ...rest } = schema as Record<string, unknown>;
    schemas[id] = rest;
  }
  const superuser = [{ bearer: [] }];
  const anyone = [{ bearer: [] }, {}];
  return {
    openapi: "3.1.0",
    info: {
      title: "Tenantbase API",
      version: "1",
      description:
        "PocketBase-compatible records API where every tenant is its own database. Superusers send the admin token; tenant users send their JWT (the tenant is its `tenant` claim).",
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "Admin token or user JWT; a bare token (no Bearer) is accepted too.",
        },
      },
    },
    paths: {
      "/api/health": { get: { summary: "Health", responses: { 200: json("Health") } } },
      "/api/databases": {
        get: {
          summary: "List databases (tenants)",
          security: superuser,
          responses: {
            200: {
              description: "OK",
              content: {
                "application/json": { schema: { type: "array", items: ref("Database") } },
              },
            },
            ...errors,
          },
        },
        post: {
          summary: "Create a database",
          security: superuser,
          requestBody: body("DatabaseCreate"),
          responses: { 200: json("Database"), 409: json("ApiError", "Exists"), ...errors },
        },
      },
      "/api/databases/{name}": {
        delete: {
          summary: "Delete a database (a final copy is archived)",
          security: superuser,
          parameters: [pathParam("name", "Tenant key")],
          responses: { 204: { description: "Deleted" }, ...errors },
        },
      },
      "/api/collections": {
        get: {
          summary: "List collections",
          security: superuser,
          responses: { 200: { description: "OK" }, ...errors },
        },
        post: {
          summary: "Create a collection (applied to every tenant)",
          security: superuser,
          requestBody: body("CollectionCreate"),
          responses: { 200: { description: "The collection" }, ...errors },
        },
      },
      "/api/collections/{collection}": {
        parameters: [collection],
        get: {
          summary: "View a collection",
          security: superuser,
          responses: { 200: { description: "The collection" }, ...errors },
        },
        patch: {
          summary: "Change a collection (add fields, loosen options, rules)",
          security: superuser,
          requestBody: body("CollectionUpdate"),
          responses: { 200: { description: "The collection" }, ...errors },
        },
        delete: {
          summary: "Soft-delete a collection (data kept)",
          security: superuser,
          responses: { 204: { description: "Deleted" }, ...errors },
        },
      },
      "/api/collections/{collection}/records": {
        parameters: [collection, tenantHeader],
        get: {
          summary: "List records",
          security: anyone,
          parameters: listParameters(),
          responses: { 200: json("RecordList"), ...errors },
        },
        post: {
          summary: "Create a record",
          security: anyone,
          requestBody: {
            required: true,
            content: { "application/json": { schema: { type: "object" } } },
          },
          responses: { 200: json("Record"), ...errors },
        },
      },
      "/api/collections/{collection}/records/{id}": {
        parameters: [collection, pathParam("id", "Record id"), tenantHeader],
        get: {
          summary: "View a record",
          security: anyone,
          responses: { 200: json("Record"), ...errors },
        },
        patch: {
          summary: "Update a record",
          security: anyone,
          requestBody: {
            required: true,
            content: { "application/json": { schema: { type: "object" } } },
          },
          responses: { 200: json("Record"), ...errors },
        },
        delete: {
          summary: "Delete a record",
          security: anyone,
          responses: { 204: { description: "Deleted" }, ...errors },
        },
      },
      "/api/collections/{collection}/auth-with-password": {
        parameters: [collection, tenantHeader],
        post: {
          summary: "Sign a tenant user in",
          requestBody: body("AuthWithPassword"),
          responses: { 200: json("AuthResponse"), ...errors },
        },
      },
      "/api/collections/{collection}/auth-refresh": {
        parameters: [collection],
        post: {
          summary: "A fresh token for the signed-in user",
          security: [{ bearer: [] }],
          responses: { 200: json("AuthResponse"), ...errors },
        },
      },
      "/api/actions/{name}": {
        parameters: [pathParam("name", "Action name from the tenant definition"), tenantHeader],
        post: {
          summary: "Run a tenant action (alone on its tenant, in one transaction)",
          security: anyone,
          requestBody: {
            required: false,
            content: { "application/json": { schema: { description: "The action's input" } } },
          },
          responses: {
            200: {
              description: "The action's result",
              content: { "application/json": { schema: {} } },
            },
            ...errors,
            409: json("ApiError", "Refused by the action (e.g. a limit reached)"),
          },
        },
      },
      "/api/realtime": {
        get: {
          summary: "Realtime stream (PocketBase SSE protocol; first event PB_CONNECT {clientId})",
          responses: {
            200: { description: "text/event-stream", content: { "text/event-stream": {} } },
          },
        },
        post: {
          summary: "Set a realtime client's subscriptions",
          security: anyone,
          parameters: [tenantHeader],
          requestBody: body("RealtimeSubscriptions"),
          responses: { 204: { description: "Subscribed" }, ...errors },
        },
      },
      "/api/signup": {
        post: {
          summary: "A new tenant and its first user, signed in (when the server enables sign-up)",
          requestBody: body("Signup"),
          responses: {
            200: { description: "{ tenant, token, record }" },
            ...errors,
            409: json("ApiError", "The tenant exists"),
          },
        },
      },
      "/api/metrics": {
        get: {
          summary:
            "Prometheus metrics (requests per route pattern, tenant pool, realtime, process)",
          security: superuser,
          responses: { 200: { description: "Prometheus text format" }, ...errors },
        },
      },
      "/api/docs": {
        get: { summary: "This document", responses: { 200: { description: "OpenAPI 3.1" } } },
      },
    },
  };
}

let document: Record<string, unknown> | undefined;

export function registerDocs(app: Hono<AppEnv>): void {
  app.get("/api/docs", (c) => {
    document ??= buildDocument();
    return c.json(document);
  });
}
