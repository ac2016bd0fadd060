/**
 * Collection changes as tenant migrations. Each stored change (its payload
 * text in the catalog) becomes one migration with a fixed name and a
 * checksum derived from that text, so the list rebuilt at every start (in
 * every process) is identical to the one tenants applied.
 *
 * Column layout (PocketBase's zero values, never NULL except empty json):
 * text-like fields TEXT NOT NULL DEFAULT '', numbers NOT NULL DEFAULT 0,
 * bools NOT NULL DEFAULT false, multi-valued select/relation JSON text
 * DEFAULT '[]', json JSON text or NULL.
 */
import { type ColumnDefinitionBuilder, type Kysely, type RawBuilder, sql } from "kysely";
import { digest, type ResolvedMigration } from "../migrations/migration.js";
import { type FieldDefinition, isMultiple, type SchemaChange } from "./definition.js";

export const COLLECTION_MIGRATIONS_TABLE = "_tenantbase_collection_migrations";

export type Dialect = "sqlite" | "postgres";

/** A stored change: its position, its migration name and its payload (JSON text). */
export interface ChangeRow {
  seq: number;
  migrationName: string;
  payload: string;
}

export function migrationName(position: number, change: SchemaChange): string {
  const number = String(position).padStart(4, "0");
  const table = change.collection.name;
  switch (change.kind) {
    case "create":
      return `${number}_${table}_create`;
    case "add_field":
      return `${number}_${table}_add_field_${change.field.name}`;
    case "alter_field":
      return `${number}_${table}_alter_field_${change.after.name}`;
    case "delete":
      return `${number}_${table}_delete`;
  }
}

export function uniqueIndexName(collectionId: string, fieldId: string): string {
  return `uq_${collectionId}_${fieldId}`;
}

interface ColumnSpec {
  type: RawBuilder<unknown>;
  build: (column: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
}

function columnSpec(field: FieldDefinition, dialect: Dialect): ColumnSpec {
  const text = (empty: string): ColumnSpec => ({
    type: sql`text`,
    build: (c) => c.notNull().defaultTo(empty),
  });
  switch (field.type) {
    case "number":
      return {
        type: dialect === "postgres" ? sql`double precision` : sql`numeric`,
        build: (c) => c.notNull().defaultTo(0),
      };
    case "bool":
      return { type: sql`boolean`, build: (c) => c.notNull().defaultTo(false) };
    case "json":
      return { type: sql`text`, build: (c) => c };
    case "select":
    case "relation":
      return text(isMultiple(field) ? "[]" : "");
    default:
      return text("");
  }
}

async function createUniqueIndex(
  db: Kysely<any>,
  table: string,
  collectionId: string,
  field: FieldDefinition,
): Promise<void> {
  // Empty values are not values: many records may leave a unique field blank.
  await db.schema
    .createIndex(uniqueIndexName(collectionId, field.id))
    .on(table)
    .column(field.name)
    .unique()
    .where(sql.ref(field.name), "<>", "")
    .execute();
}

async function createCollection(
  db: Kysely<any>,
  change: Extract<SchemaChange, { kind: "create" }>,
  dialect: Dialect,
): Promise<void> {
  const { id, name, type } = change.collection;
  let table = db.schema.createTable(name).addColumn("id", "text", (c) => c.primaryKey().notNull());
  if (type === "auth") {
    table = table
      .addColumn("email", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("emailVisibility", "boolean", (c) => c.notNull().defaultTo(false))
      .addColumn("verified", "boolean", (c) => c.notNull().defaultTo(false))
      .addColumn("password", "text", (c) => c.notNull().defaultTo(""))
      .addColumn("tokenKey", "text", (c) => c.notNull().defaultTo(""));
  }
  for (const field of change.fields) {
    const spec = columnSpec(field, dialect);
    table = table.addColumn(field.name, spec.type, spec.build);
  }
  table = table
    .addColumn("created", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("updated", "text", (c) => c.notNull().defaultTo(""));
  await table.execute();
  await db.schema.createIndex(`ix_${id}_created`).on(name).column("created").execute();
  if (type === "auth") {
    // Emails are unique regardless of case, like identities should be.
    await db.schema
      .createIndex(`uq_${id}_email`)
      .on(name)
      .expression(sql`lower(${sql.ref("email")})`)
      .unique()
      .where(sql.ref("email"), "<>", "")
      .execute();
  }
  for (const field of change.fields) {
    if (field.unique) await createUniqueIndex(db, name, id, field);
  }
}

async function alterField(
  db: Kysely<any>,
  change: Extract<SchemaChange, { kind: "alter_field" }>,
): Promise<void> {
  const { before, after } = change;
  const table = change.collection.name;
  if (before.unique && !after.unique) {
    await db.schema
      .dropIndex(uniqueIndexName(change.collection.id, before.id))
      .ifExists()
      .execute();
  }
  if (!isMultiple(before) && isMultiple(after)) {
    // One value becomes a list of one: "a" -> ["a"], "" -> [].
    const column = sql.ref(after.name);
    const rows = await db
      .selectFrom(table)
      .select(["id", sql<string>`${column}`.as("value")])
      .where(column, "<>", "")
      .execute();
    for (const row of rows) {
      await db
        .updateTable(table)
        .set({ [after.name]: JSON.stringify([row.value]) })
        .where("id", "=", row.id)
        .execute();
    }
    await db
      .updateTable(table)
      .set({ [after.name]: "[]" })
      .where(column, "=", "")
      .execute();
  }
  // Other loosenings need no DDL: the values already stored stay valid.
}

async function applyChange(db: Kysely<any>, change: SchemaChange, dialect: Dialect): Promise<void> {
  switch (change.kind) {
    case "create":
      return createCollection(db, change, dialect);
    case "add_field": {
      const spec = columnSpec(change.field, dialect);
      await db.schema
        .alterTable(change.collection.name)
        .addColumn(change.field.name, spec.type, spec.build)
        .execute();
      if (change.field.unique) {
        await createUniqueIndex(db, change.collection.name, change.collection.id, change.field);
      }
      return;
    }
    case "alter_field":
      return alterField(db, change);
    case "delete":
      // Soft: the rows stay, under a name no collection can take, and the name is free again.
      await db.schema.alterTable(change.collection.name).renameTo(change.archivedAs).execute();
      return;
  }
}

export function changeToMigration(row: ChangeRow, dialect: Dialect): ResolvedMigration {
  const change = JSON.parse(row.payload) as SchemaChange;
  return {
    name: row.migrationName,
    checksum: digest(row.payload),
    up: (db) => applyChange(db, change, dialect),
    // Fleet rollout workers rebuild it from the same row.
    recipe: { module: import.meta.url, export: "changeToMigration", args: [row, dialect] },
  };
}
