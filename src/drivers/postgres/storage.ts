/**
 * One PostgreSQL schema per tenant, every tenant over one shared `pg` pool;
 * the catalog in its own schema (`tenantbase`) over a small pool of its own.
 *
 * Names (always quoted as identifiers):
 * - a tenant's schema is its storage name when that fits PostgreSQL's 63
 *   bytes, else `h-` + base32(sha256(storage name)) (storage names always
 *   start with `t-` or `x-`, so the two forms never meet);
 * - templates: `tenantbase_tpl_<hash>`; archives: `tenantbase_archive_<hash>`
 *   (with a COMMENT saying which tenant and when).
 *
 * No session state is ever set on a pooled connection: see connection.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  Kysely,
  PostgresAdapter,
  PostgresQueryCompiler,
  type QueryCompiler,
} from "kysely";
import pg from "pg";
import { base32Encode } from "../../tools/base32.js";
import {
  type BackupResult,
  dialectOf,
  type EventTransport,
  type EventTransportOptions,
  type StorageDriver,
  type TenantTemplate,
} from "../driver.js";
import {
  ADVISORY_LOCK_CLASS,
  beginBatch,
  PostgresSchemaDriver,
  quoteIdentifier,
  quoteLiteral,
  SchemaScopedIntrospector,
} from "./connection.js";
import {
  dumpSchema,
  insertSelect,
  isRestorableStatement,
  type SchemaDump,
  type SequenceState,
  setSequence,
  type TableCopy,
} from "./dump.js";
import {
  createOutboxStatement,
  type PostgresEventsOptions,
  PostgresEventTransport,
} from "./events.js";

export interface PostgresDriverOptions {
  /** postgres://user:password@host:port/database */
  url?: string;
  /**
   * Extra `pg` pool settings (ssl, ...), applied to both pools (the tenant
   * pool and the catalog's). `maxLifetimeSeconds` defaults to
   * DEFAULT_MAX_LIFETIME_SECONDS (300): every pooled connection is replaced
   * once it is that old (after its current unit of work), which bounds the
   * catalog caches a server backend accumulates for every tenant schema it
   * touches (about 21 KiB per schema, never given back). 0 keeps connections
   * for ever.
   */
  poolConfig?: Omit<pg.PoolConfig, "connectionString" | "max">;
  /** Connections shared by all tenants. Default 10. */
  max?: number;
  /** Connections of the catalog (control plane). Default 4. */
  catalogMax?: number;
  /** The catalog's schema. Default "tenantbase". */
  catalogSchema?: string;
  /**
   * Let a provisioning commit skip its own WAL flush (default true): the hub's
   * catalog commit on the same server flushes it right after. Set false when
   * tenant schemas may live on other nodes than the catalog (Citus).
   */
  asyncProvisionCommit?: boolean;
  /**
   * Schemas kept ready at the current template, created in the background
   * after the first provisioning; a new tenant takes one by renaming it
   * (default 8; 0 disables). Spares of an older template are dropped.
   */
  spares?: number;
  /**
   * Carry events (realtime, action events) between processes sharing the
   * database over LISTEN/NOTIFY (default true; see docs/postgres.md, "Many
   * server processes"). false: events stay in the process that raised them.
   */
  events?: boolean | PostgresEventsOptions;
}

export const BACKUP_FORMAT = "tenantbase-postgres-backup";
export const BACKUP_VERSION = 1;

interface BackupFile {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  createdAt: string;
  pre: string[];
  post: string[];
  tables: Array<TableCopy & { rows: unknown[] }>;
  sequences: SequenceState[];
  checksum: string;
}

interface Template {
  /** Names of this template's spare schemas start with it. */
  sparePrefix: string;
  /** The provisioning script, after the BEGIN batch and CREATE SCHEMA. */
  script: string;
}

const MAX_IDENTIFIER_BYTES = 63;
/**
 * Default lifetime of a pooled connection (pg.Pool's maxLifetimeSeconds). A
 * PostgreSQL backend keeps the relation and catalog cache entries of every
 * schema it has touched until it exits: with thousands of tenants per pool
 * connection that is hundreds of MiB per connection. Recycling costs a
 * connect (a few ms) every 5 minutes per connection, and a slightly slower
 * first query on each tenant schema for the new backend. Nothing depends on
 * a connection living longer than one unit of work (see connection.ts).
 */
export const DEFAULT_MAX_LIFETIME_SECONDS = 300;
/** Spares are made once provisioning has been quiet this long. */
const REFILL_DELAY_MS = 100;

function hash(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The schema of a tenant's storage name (injective up to SHA-256 collisions for long names). */
export function schemaOf(storage: string): string {
  if (!/^[a-z0-9_-]{1,240}$/.test(storage)) throw new Error("postgres: unsafe storage name");
  if (Buffer.byteLength(storage) <= MAX_IDENTIFIER_BYTES) return storage;
  return `h-${base32Encode(hash(storage))}`;
}

function checksumOf(file: Omit<BackupFile, "checksum">): string {
  return createHash("sha256")
    .update(
      JSON.stringify([file.format, file.version, file.pre, file.post, file.tables, file.sequences]),
    )
    .digest("hex");
}

export class PostgresStorageDriver implements StorageDriver {
  readonly name = "postgres";
  readonly dialect = "postgres" as const;
  readonly catalogSchema: string;
  /** The pool every tenant shares. */
  readonly pool: pg.Pool;
  /** The catalog's pool (kept apart so tenant traffic never starves the control plane). */
  readonly catalogPool: pg.Pool;
  readonly #templates = new Map<string, Promise<Template>>();
  readonly #asyncProvisionCommit: boolean;
  readonly #spares: number;
  #refilling: Promise<void> | undefined;
  #refillTimer: NodeJS.Timeout | undefined;
  readonly #url: string;
  readonly #poolConfig: PostgresDriverOptions["poolConfig"];
  readonly #events: PostgresEventsOptions | undefined;
  /** The event transport the hub asked for last. */
  events: PostgresEventTransport | undefined;
  readonly #transports: PostgresEventTransport[] = [];
  #closed = false;

  constructor(options: PostgresDriverOptions = {}) {
    const url = options.url ?? process.env.TENANTBASE_DATABASE_URL;
    if (!url) throw new Error("postgres: a url (postgres://...) is required");
    this.catalogSchema = options.catalogSchema ?? "tenantbase";
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.catalogSchema)) {
      throw new Error("postgres: catalogSchema must be a plain lower-case identifier");
    }
    this.#url = url;
    this.#poolConfig = options.poolConfig;
    const events = options.events ?? true;
    this.#events = events === false ? undefined : events === true ? {} : events;
    // The LISTEN connection (events.ts) is not pooled and never gets a lifetime.
    const common = {
      maxLifetimeSeconds: DEFAULT_MAX_LIFETIME_SECONDS,
      ...options.poolConfig,
      connectionString: url,
    };
    this.pool = new pg.Pool({ ...common, max: options.max ?? 10 });
    this.catalogPool = new pg.Pool({ ...common, max: options.catalogMax ?? 4 });
    this.#asyncProvisionCommit = options.asyncProvisionCommit ?? true;
    this.#spares = options.spares ?? 8;
    if (!Number.isInteger(this.#spares) || this.#spares < 0) {
      throw new Error("postgres: spares must be a non-negative integer");
    }
    // An idle client's error (server restart) must not crash the process; the pool drops it.
    this.pool.on("error", () => {});
    this.catalogPool.on("error", () => {});
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db);
  }

  /** The schema a tenant's storage lives in. */
  schemaOf(storage: string): string {
    return schemaOf(storage);
  }

  catalogDialect(): Dialect {
    const schema = this.catalogSchema;
    return dialectOf(
      this,
      new PostgresSchemaDriver(this.catalogPool, schema, {
        lock: false,
        init: () =>
          this.#transaction(this.catalogPool, schema, async (client) => {
            await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
            if (this.#events) await client.query(createOutboxStatement(schema));
          }),
      }),
    );
  }

  /** LISTEN/NOTIFY between the processes sharing this database (unless `events: false`). */
  eventTransport(options: EventTransportOptions): EventTransport | undefined {
    if (!this.#events) return undefined;
    const transport = new PostgresEventTransport({
      pool: this.pool,
      clientConfig: {
        ...this.#poolConfig,
        connectionString: this.#events.listenUrl ?? this.#url,
      },
      catalogSchema: this.catalogSchema,
      ...(this.#events.outboxRetentionMs !== undefined
        ? { retentionMs: this.#events.outboxRetentionMs }
        : {}),
      onError: options.onError,
    });
    this.#transports.push(transport);
    this.events = transport;
    return transport;
  }

  /** Runs `fn` in a transaction on `schema` holding its advisory lock. */
  async #transaction<T>(
    pool: pg.Pool,
    schema: string,
    fn: (client: pg.PoolClient) => Promise<T>,
    settings: { readOnly?: boolean } = {},
  ): Promise<T> {
    const client = await pool.connect();
    let broken = false;
    try {
      try {
        await client.query(
          beginBatch(schema, {
            lock: !settings.readOnly,
            ...(settings.readOnly
              ? { settings: { isolationLevel: "repeatable read", accessMode: "read only" } }
              : {}),
          }),
        );
      } catch (error) {
        // Failed halfway, the session may still be in a transaction: never reuse it.
        broken = true;
        throw error;
      }
      try {
        const result = await fn(client);
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => {
          broken = true;
        });
        throw error;
      }
    } catch (error) {
      if (typeof (error as { code?: unknown })?.code !== "string") broken = true;
      throw error;
    } finally {
      client.release(broken || undefined);
    }
  }

  async #schemaExists(schema: string): Promise<boolean> {
    const { rows } = await this.pool.query("select 1 from pg_namespace where nspname = $1", [
      schema,
    ]);
    return rows.length > 0;
  }

  /** The provisioning script for a template: built once per id (and process), shared by its tenants. */
  #template(template: TenantTemplate): Promise<Template> {
    let ready = this.#templates.get(template.id);
    if (!ready) {
      ready = this.#buildTemplate(template);
      this.#templates.set(template.id, ready);
      ready.catch(() => this.#templates.delete(template.id));
    }
    return ready;
  }

  async #buildTemplate(template: TenantTemplate): Promise<Template> {
    const digest = hash(template.id).toString("hex").slice(0, 32);
    const name = `tenantbase_tpl_${digest}`;
    const marker = `tenantbase template ${digest}`;
    const ready = async () =>
      (
        await this.pool.query(
          "select 1 from pg_namespace where nspname = $1 and obj_description(oid, 'pg_namespace') = $2",
          [name, marker],
        )
      ).rows.length > 0;
    if (!(await ready())) {
      // Built under a name of its own, then renamed: two processes may build at once.
      const building = `tenantbase_tmp_${digest}_${randomBytes(4).toString("hex")}`;
      await this.pool.query(`create schema ${quoteIdentifier(building)}`);
      try {
        const kysely = new Kysely<any>({
          dialect: dialectOf(this, new PostgresSchemaDriver(this.pool, building, { lock: false })),
        });
        await template.init(kysely);
        await this.#transaction(this.pool, name, async (client) => {
          const exists = await client.query("select 1 from pg_namespace where nspname = $1", [
            name,
          ]);
          if (exists.rows.length > 0) {
            // Someone else finished first (or a crash left a half-built one): keep a complete one.
            const complete = await client.query(
              "select obj_description(oid, 'pg_namespace') as c from pg_namespace where nspname = $1",
              [name],
            );
            if (complete.rows[0]?.c === marker) return;
            await client.query(`drop schema ${quoteIdentifier(name)} cascade`);
          }
          await client.query(
            `alter schema ${quoteIdentifier(building)} rename to ${quoteIdentifier(name)}`,
          );
          await client.query(
            `comment on schema ${quoteIdentifier(name)} is ${quoteLiteral(marker)}`,
          );
        });
      } finally {
        await this.pool
          .query(`drop schema if exists ${quoteIdentifier(building)} cascade`)
          .catch(() => {});
      }
    }
    return {
      sparePrefix: `tenantbase_spare_${digest.slice(0, 16)}_`,
      script: await this.#provisioningScript(name),
    };
  }

  /** Everything after the BEGIN batch that makes a new schema a copy of the template. */
  async #provisioningScript(templateSchema: string): Promise<string> {
    const { dump, filled } = await this.#readOnly(templateSchema, async (client) => {
      const dump = await dumpSchema(client, templateSchema);
      const filled: TableCopy[] = [];
      for (const table of dump.tables) {
        const { rows } = await client.query(
          `select exists (select 1 from ${quoteIdentifier(table.name)}) as filled`,
        );
        if (rows[0]?.filled) filled.push(table);
      }
      return { dump, filled };
    });
    const statements = [
      "set local check_function_bodies to off",
      ...dump.pre,
      ...filled.map((table) =>
        insertSelect(table, `${quoteIdentifier(templateSchema)}.${quoteIdentifier(table.name)}`),
      ),
      ...dump.sequences.map(setSequence).filter((s): s is string => s !== undefined),
      ...dump.post,
    ];
    return `${statements.join(";\n")};\ncommit;`;
  }

  #readOnly<T>(schema: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#transaction(this.pool, schema, fn, { readOnly: true });
  }

  async provision(storage: string, template: TenantTemplate): Promise<void> {
    const schema = schemaOf(storage);
    const ready = await this.#template(template);
    if (await this.#schemaExists(schema)) {
      await this.deprovision(storage, `orphan-${storage}-${Date.now()}`);
    }
    try {
      if (this.#spares > 0 && (await this.#claimSpare(ready.sparePrefix, schema))) return;
      await this.#createSchema(schema, ready.script);
    } finally {
      this.#refill(ready);
    }
  }

  /**
   * Creates `schema` from a provisioning script in one round trip: begin, lock,
   * create the schema, its tables, the template's rows, commit.
   *
   * The commit need not wait for its own WAL flush: the hub commits the catalog
   * row (synchronously, on the same server) right after, which flushes this
   * commit too; a crash before that leaves an orphan schema the next
   * provisioning archives.
   */
  async #createSchema(schema: string, script: string): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(
        `${beginBatch(schema, { lock: true })}\n${this.#asyncCommit()}create schema ${quoteIdentifier(schema)};\n${script}`,
      );
    } catch (error) {
      await client.query("rollback").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken || undefined);
    }
  }

  #asyncCommit(): string {
    return this.#asyncProvisionCommit ? "set local synchronous_commit to off;\n" : "";
  }

  /** Renames a ready spare into place in one round trip; false when none is free. */
  async #claimSpare(prefix: string, schema: string): Promise<boolean> {
    // Both names are [a-z0-9_-] by construction; still passed as literals and quoted by format(%I).
    const claim = `do $tb$
      declare spare name;
      begin
        select nspname into spare from pg_namespace
         where left(nspname, ${prefix.length}) = ${quoteLiteral(prefix)}
           and pg_try_advisory_xact_lock(${ADVISORY_LOCK_CLASS}, hashtext(nspname))
         limit 1;
        if spare is null then raise exception 'no spare schema' using errcode = 'P0002'; end if;
        execute format('alter schema %I rename to %I', spare, ${quoteLiteral(schema)});
      end $tb$;`;
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query(
        `${beginBatch(schema, { lock: true })}\n${this.#asyncCommit()}${claim}\ncommit;`,
      );
      return true;
    } catch {
      // None free, or taken by another process in the meantime: create one instead.
      await client.query("rollback").catch(() => {
        broken = true;
      });
      return false;
    } finally {
      client.release(broken || undefined);
    }
  }

  /**
   * Tops the spares up to the target in the background (one at a time,
   * dropping stale ones), once provisioning has been quiet for a moment, so a
   * burst of new tenants is not slowed down by making more.
   */
  #refill(ready: Template): void {
    if (this.#spares === 0 || this.#closed) return;
    clearTimeout(this.#refillTimer);
    this.#refillTimer = setTimeout(() => this.#startRefill(ready), REFILL_DELAY_MS);
    this.#refillTimer.unref();
  }

  #startRefill(ready: Template): void {
    if (this.#closed || this.#refilling) return;
    this.#refilling = (async () => {
      try {
        const { rows } = await this.pool.query(
          "select nspname from pg_namespace where left(nspname, 17) = 'tenantbase_spare_' order by nspname",
        );
        const names = rows.map((r) => r.nspname as string);
        for (const stale of names.filter((n) => !n.startsWith(ready.sparePrefix))) {
          if (this.#closed) return;
          await this.#transaction(this.pool, stale, async (client) => {
            await client.query(`drop schema if exists ${quoteIdentifier(stale)} cascade`);
          });
        }
        let have = names.filter((n) => n.startsWith(ready.sparePrefix)).length;
        while (have < this.#spares && !this.#closed) {
          await this.#createSchema(
            `${ready.sparePrefix}${randomBytes(4).toString("hex")}`,
            ready.script,
          );
          have++;
        }
      } catch {
        // Spares are an optimisation: the next provisioning tries again.
      } finally {
        this.#refilling = undefined;
      }
    })();
  }

  async open(storage: string): Promise<Driver> {
    const schema = schemaOf(storage);
    if (!(await this.#schemaExists(schema))) {
      throw new Error(`postgres: schema ${schema} does not exist`);
    }
    return new PostgresSchemaDriver(this.pool, schema, { lock: true });
  }

  async exists(storage: string): Promise<boolean> {
    return this.#schemaExists(schemaOf(storage));
  }

  /** The archive schema for an archive name the hub chose. */
  archiveSchemaOf(archiveName: string): string {
    return `tenantbase_archive_${hash(archiveName).toString("hex").slice(0, 32)}`;
  }

  async deprovision(storage: string, archiveName: string): Promise<string> {
    const schema = schemaOf(storage);
    const archive = this.archiveSchemaOf(archiveName);
    await this.#transaction(this.pool, schema, async (client) => {
      const { rows } = await client.query("select 1 from pg_namespace where nspname = $1", [
        schema,
      ]);
      if (rows.length === 0) return;
      await client.query(
        `alter schema ${quoteIdentifier(schema)} rename to ${quoteIdentifier(archive)}`,
      );
      await client.query(
        `comment on schema ${quoteIdentifier(archive)} is ${quoteLiteral(
          JSON.stringify({ archiveOf: storage, name: archiveName, at: new Date().toISOString() }),
        )}`,
      );
    });
    return `postgres-schema:${archive}`;
  }

  async size(storage: string): Promise<number> {
    // The schema's relations through pg_depend (indexed; pg_class has no index on relnamespace,
    // so filtering it by namespace scans every tenant's relations). Indexes and TOAST tables
    // (which do not depend on the namespace) are counted by pg_total_relation_size.
    const { rows } = await this.pool.query(
      `select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as bytes
         from pg_namespace n
        cross join lateral (select distinct d.objid from pg_depend d
                             where d.refclassid = 'pg_namespace'::regclass and d.refobjid = n.oid
                               and d.refobjsubid = 0 and d.classid = 'pg_class'::regclass) m
         join pg_class c on c.oid = m.objid
        where n.nspname = $1 and c.relnamespace = n.oid and c.relkind in ('r', 'm', 'S', 't')`,
      [schemaOf(storage)],
    );
    return Number(rows[0]?.bytes ?? 0);
  }

  async backup(storage: string, destination: string): Promise<BackupResult> {
    const schema = schemaOf(storage);
    // One snapshot: the definition and every row as of the same moment.
    const content = await this.#readOnly(schema, async (client) => {
      const dump: SchemaDump = await dumpSchema(client, schema);
      const tables: BackupFile["tables"] = [];
      for (const table of dump.tables) {
        const { rows } = await client.query(
          `select coalesce(json_agg(t), '[]'::json)::text as rows from ${quoteIdentifier(table.name)} t`,
        );
        tables.push({ ...table, rows: JSON.parse(String(rows[0]?.rows ?? "[]")) as unknown[] });
      }
      const body: Omit<BackupFile, "checksum"> = {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        createdAt: new Date().toISOString(),
        pre: dump.pre,
        post: dump.post,
        tables,
        sequences: dump.sequences,
      };
      return JSON.stringify({ ...body, checksum: checksumOf(body) });
    });
    const temporary = `${destination}.writing-${process.pid}`;
    writeFileSync(temporary, content);
    renameSync(temporary, destination);
    return { path: destination, bytes: statSync(destination).size };
  }

  async restore(storage: string, source: string): Promise<void> {
    const file = readBackup(source);
    const schema = schemaOf(storage);
    await this.#transaction(this.pool, schema, async (client) => {
      // Everything in one transaction: on any error the tenant keeps its old schema.
      await client.query(`drop schema if exists ${quoteIdentifier(schema)} cascade`);
      await client.query(`create schema ${quoteIdentifier(schema)}`);
      await client.query("set local check_function_bodies to off");
      // One statement per query (extended protocol): a file cannot smuggle a second one in.
      const run = (text: string, values: unknown[] = []) =>
        client.query({ text, values, queryMode: "extended" } as pg.QueryConfig);
      for (const statement of file.pre) await run(statement);
      for (const table of file.tables) {
        if (table.rows.length === 0) continue;
        await run(
          insertSelect(
            table,
            `json_populate_recordset(null::${quoteIdentifier(table.name)}, $1::json)`,
          ),
          [JSON.stringify(table.rows)],
        );
      }
      for (const seq of file.sequences) {
        const statement = setSequence(seq);
        if (statement) await run(statement);
      }
      for (const statement of file.post) await run(statement);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#refillTimer);
    await this.#refilling;
    await Promise.all(this.#transports.map((transport) => transport.close()));
    await Promise.all([this.pool.end(), this.catalogPool.end()]);
  }
}

/** Reads and checks a backup file; throws before anything is touched if it is not one. */
function readBackup(source: string): BackupFile {
  let file: BackupFile;
  try {
    file = JSON.parse(readFileSync(source, "utf8")) as BackupFile;
  } catch (error) {
    throw new Error(`not a Tenantbase PostgreSQL backup: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!file || typeof file !== "object" || file.format !== BACKUP_FORMAT) {
    throw new Error("not a Tenantbase PostgreSQL backup (format)");
  }
  if (file.version !== BACKUP_VERSION)
    throw new Error(`unsupported backup version ${file.version}`);
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((s) => typeof s === "string");
  if (
    !strings(file.pre) ||
    !strings(file.post) ||
    !Array.isArray(file.tables) ||
    !Array.isArray(file.sequences)
  ) {
    throw new Error("backup file is malformed");
  }
  if (checksumOf(file) !== file.checksum)
    throw new Error("backup checksum mismatch (file damaged or edited)");
  for (const statement of [...file.pre, ...file.post]) {
    if (!isRestorableStatement(statement)) {
      throw new Error(
        `backup contains a statement restore does not run: ${statement.slice(0, 60)}`,
      );
    }
  }
  for (const table of file.tables) {
    if (
      typeof table?.name !== "string" ||
      !strings(table.columns) ||
      typeof table.identityAlways !== "boolean" ||
      !Array.isArray(table.rows)
    ) {
      throw new Error("backup file is malformed (tables)");
    }
  }
  for (const seq of file.sequences) {
    if (
      typeof seq?.name !== "string" ||
      !(seq.value === null || /^-?\d+$/.test(String(seq.value)))
    ) {
      throw new Error("backup file is malformed (sequences)");
    }
  }
  return file;
}
