/**
 * Baseline on PostgreSQL: the usual hand-made fleet migration over schema-per-
 * tenant, a sequential loop that runs Kysely's own `Migrator` (inline
 * provider, as FileMigrationProvider would load them) once per tenant schema.
 * One Kysely instance and one `pg` pool (10 connections, like the driver's
 * default) are shared by every schema, as a competent user would write it:
 * each Migrator gets `db.withSchema(schema)` (so the migrations' schema
 * builders address that schema) and `migrationTableSchema: schema` (so each
 * tenant keeps its own kysely_migration tables).
 */
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  Migrator,
  PostgresDialect,
  sql,
} from "kysely";
import pg from "pg";

const V1: Migration = {
  async up(db) {
    await db.schema
      .createTable("items")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("value", "integer", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("items").execute();
  },
};

const V2: Migration = {
  async up(db) {
    await db.schema.alterTable("items").addColumn("note", "text").execute();
    await db.schema.createIndex("items_note").on("items").column("note").execute();
  },
  async down(db) {
    await db.schema.dropIndex("items_note").execute();
    await db.schema.alterTable("items").dropColumn("note").execute();
  },
};

function provider(migrations: Record<string, Migration>): MigrationProvider {
  return { getMigrations: async () => migrations };
}

const V1_ONLY = provider({ "0001_items": V1 });
const V1_V2 = provider({ "0001_items": V1, "0002_items_note": V2 });

export interface KyselySchemaFleet {
  schemas: string[];
  /** The loop: every schema in turn, Migrator.migrateToLatest(). */
  migrate(): Promise<void>;
  /** Back to version 1 everywhere (between rounds; not measured). */
  revert(): Promise<void>;
  close(): Promise<void>;
}

function migratorFor(db: Kysely<any>, schema: string, migrations: MigrationProvider): Migrator {
  return new Migrator({
    db: db.withSchema(schema),
    provider: migrations,
    migrationTableSchema: schema,
  });
}

/** `count` tenant schemas at version 1 with `rows` items each (setup, not measured). */
export async function makeKyselySchemaFleet(
  url: string,
  count: number,
  rows: number,
): Promise<KyselySchemaFleet> {
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }),
  });
  const schemas = Array.from({ length: count }, (_, i) => `kysely_tenant_${i}`);
  for (const schema of schemas) {
    await sql`create schema ${sql.id(schema)}`.execute(db);
    const { error } = await migratorFor(db, schema, V1_ONLY).migrateToLatest();
    if (error) throw error;
    await db
      .withSchema(schema)
      .insertInto("items")
      .values(
        Array.from({ length: rows }, (_, j) => ({ id: j + 1, name: `item ${j + 1}`, value: j })),
      )
      .execute();
  }
  const each = async (target: "latest" | "0001_items") => {
    for (const schema of schemas) {
      const migrator = migratorFor(db, schema, V1_V2);
      const { error } =
        target === "latest" ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
      if (error) throw error;
    }
  };
  return {
    schemas,
    migrate: () => each("latest"),
    revert: () => each("0001_items"),
    close: () => db.destroy(),
  };
}
