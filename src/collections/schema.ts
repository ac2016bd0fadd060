/**
 * What clients send to define collections (zod schemas, also the source of
 * the OpenAPI document). Field objects take PocketBase's flat shape:
 * `{ name, type, required, ...options }`. Keys PocketBase itself sends back
 * (id, system, presentable, help, ...) are accepted so a collection fetched
 * from the API can be sent back; anything else is an error.
 */
import { z } from "zod";

export const FIELD_TYPES = [
  "text",
  "editor",
  "number",
  "bool",
  "email",
  "url",
  "date",
  "select",
  "json",
  "relation",
  "autodate",
  "password",
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export const COLLECTION_TYPES = ["base", "auth"] as const;
export type CollectionType = (typeof COLLECTION_TYPES)[number];

/** PocketBase's limit on a filter's length; rules are filters too. */
export const MAX_RULE_LENGTH = 3500;

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;
const name = z
  .string()
  .min(1)
  .max(63)
  .regex(IDENTIFIER, "Must start with a letter and contain only letters, digits and _.");

const common = {
  id: z.string().max(100).optional(),
  name,
  required: z.boolean().optional(),
  hidden: z.boolean().optional(),
  presentable: z.boolean().optional(),
  system: z.boolean().optional(),
  help: z.string().max(1000).optional(),
};

const count = z.number().int().min(0).max(1_000_000_000);
const domains = z.array(z.string().min(1).max(255)).max(100).optional();
const dateBound = z.string().max(40).optional();
const finite = z.number().refine(Number.isFinite, "Must be a finite number.");

const text = z.strictObject({
  ...common,
  type: z.literal("text"),
  min: count.nullable().optional(),
  max: count.nullable().optional(),
  pattern: z.string().max(500).optional(),
  unique: z.boolean().optional(),
  autogeneratePattern: z.string().max(500).optional(),
  primaryKey: z.boolean().optional(),
});

const editor = z.strictObject({
  ...common,
  type: z.literal("editor"),
  max: count.nullable().optional(),
  convertURLs: z.boolean().optional(),
});

const number = z.strictObject({
  ...common,
  type: z.literal("number"),
  min: finite.nullable().optional(),
  max: finite.nullable().optional(),
  onlyInt: z.boolean().optional(),
});

const bool = z.strictObject({ ...common, type: z.literal("bool") });

const email = z.strictObject({
  ...common,
  type: z.literal("email"),
  onlyDomains: domains,
  exceptDomains: domains,
  unique: z.boolean().optional(),
});

const url = z.strictObject({
  ...common,
  type: z.literal("url"),
  onlyDomains: domains,
  exceptDomains: domains,
  unique: z.boolean().optional(),
});

const date = z.strictObject({
  ...common,
  type: z.literal("date"),
  min: dateBound,
  max: dateBound,
  unique: z.boolean().optional(),
});

const select = z.strictObject({
  ...common,
  type: z.literal("select"),
  values: z.array(z.string().min(1).max(255)).min(1).max(1000),
  maxSelect: z.number().int().min(0).max(1000).optional(),
  unique: z.boolean().optional(),
});

const json = z.strictObject({
  ...common,
  type: z.literal("json"),
  maxSize: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .optional(),
});

const relation = z.strictObject({
  ...common,
  type: z.literal("relation"),
  collectionId: z.string().min(1).max(100),
  minSelect: z.number().int().min(0).max(1000).optional(),
  maxSelect: z.number().int().min(0).max(1000).optional(),
  cascadeDelete: z.literal(false).optional(),
  unique: z.boolean().optional(),
});

const autodate = z.strictObject({
  ...common,
  type: z.literal("autodate"),
  onCreate: z.boolean().optional(),
  onUpdate: z.boolean().optional(),
});

const password = z.strictObject({
  ...common,
  type: z.literal("password"),
  min: count.nullable().optional(),
  max: count.nullable().optional(),
  pattern: z.string().max(500).optional(),
  cost: z.number().int().optional(),
});

export const fieldInputSchema = z.discriminatedUnion("type", [
  text,
  editor,
  number,
  bool,
  email,
  url,
  date,
  select,
  json,
  relation,
  autodate,
  password,
]);
export type FieldInput = z.infer<typeof fieldInputSchema>;

const rule = z.string().max(MAX_RULE_LENGTH).nullable();

const collectionKeys = {
  id: z.string().max(100).optional(),
  system: z.boolean().optional(),
  created: z.string().optional(),
  updated: z.string().optional(),
  fields: z.array(fieldInputSchema).max(500).optional(),
  listRule: rule.optional(),
  viewRule: rule.optional(),
  createRule: rule.optional(),
  updateRule: rule.optional(),
  deleteRule: rule.optional(),
  // Custom indexes are not supported (a field's `unique` makes one); an empty list is fine.
  indexes: z
    .array(z.string())
    .max(0, "Custom indexes are not supported; use a field's unique option.")
    .optional(),
};

export const collectionCreateSchema = z.strictObject({
  ...collectionKeys,
  name,
  type: z.enum(COLLECTION_TYPES).optional(),
});
export type CollectionCreateInput = z.infer<typeof collectionCreateSchema>;

export const collectionUpdateSchema = z.strictObject({
  ...collectionKeys,
  name: name.optional(),
  type: z.enum(COLLECTION_TYPES).optional(),
});
export type CollectionUpdateInput = z.infer<typeof collectionUpdateSchema>;

export const RULE_NAMES = [
  "listRule",
  "viewRule",
  "createRule",
  "updateRule",
  "deleteRule",
] as const;
export type RuleName = (typeof RULE_NAMES)[number];
export type Rules = Record<RuleName, string | null>;
