/**
 * The HTTP API's shapes (zod): request bodies are checked with them, and
 * the OpenAPI document at /api/docs is generated from them.
 */
import { z } from "zod";
import { MAX_RULE_LENGTH } from "../collections/schema.js";

export const apiErrorSchema = z
  .object({
    status: z.number().int(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .describe("PocketBase's error shape.");

export const databaseCreateSchema = z.strictObject({
  name: z.string().min(1).max(128),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const databaseSchema = z.object({
  name: z.string(),
  status: z.enum(["active", "suspended", "failed"]),
  createdAt: z.string().describe("ISO 8601"),
  sizeBytes: z.number().int(),
  schemaVersion: z.number().int(),
});

export const recordSchema = z
  .object({
    collectionId: z.string(),
    collectionName: z.string(),
    id: z.string().regex(/^[a-z0-9]{15}$/),
    created: z.string(),
    updated: z.string(),
  })
  .catchall(z.unknown());

export const recordListSchema = z.object({
  page: z.number().int(),
  perPage: z.number().int(),
  totalItems: z.number().int().describe("-1 with skipTotal"),
  totalPages: z.number().int().describe("-1 with skipTotal"),
  items: z.array(recordSchema),
});

export const MAX_PER_PAGE = 1000;
export const DEFAULT_PER_PAGE = 30;

export const listQuerySchema = z.object({
  page: z.string().optional().describe("1 or more (default 1)"),
  perPage: z.string().optional().describe(`1 to ${MAX_PER_PAGE} (default ${DEFAULT_PER_PAGE})`),
  sort: z.string().optional().describe('e.g. "-created,title"; @random'),
  filter: z.string().max(MAX_RULE_LENGTH).optional().describe("PocketBase filter syntax"),
  skipTotal: z.string().optional().describe("true/1: totalItems and totalPages are -1"),
  fields: z.string().optional().describe('e.g. "id,title,body:excerpt(100,true)"'),
});

export const authWithPasswordSchema = z.strictObject({
  identity: z.string().min(1).max(255),
  password: z.string().min(1).max(255),
  identityField: z.literal("email").optional(),
});

export const authResponseSchema = z.object({ token: z.string(), record: recordSchema });

export const healthSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()),
});
