/**
 * Reads the definition of one schema (tables, columns, defaults, identity and
 * generated columns, sequences, constraints, indexes, enum types, views,
 * functions, triggers) as DDL statements that recreate it in another schema
 * when run with `search_path` set to that schema. Used to clone the
 * provisioning template into each new tenant and to write backups.
 *
 * Must run inside a transaction whose `search_path` is the schema being read:
 * PostgreSQL's deparsers (pg_get_indexdef, pg_get_constraintdef, ...) then
 * leave names in that schema unqualified.
 *
 * Every lookup goes through an indexed path, so its cost does not grow with
 * the number of schemas in the database: no catalog has an index that starts
 * with the namespace (`pg_class.relnamespace`, `pg_type.typnamespace`, ...),
 * and filtering by it scans the whole catalog (about 100 ms per catalog at
 * 10,000 tenant schemas). Instead the schema's objects are found through
 * `pg_depend` (`pg_depend_reference_index`: every relation but indexes and
 * TOAST tables, every type that is not a table's row type or an array, every
 * function depends on its namespace), and from those by oid, `attrelid`,
 * `conrelid`, `indrelid`, `tgrelid`, `inhrelid`, ... (each indexed). The
 * namespace filters are kept as well, so the result is exactly what they
 * select.
 */
import type { PoolClient } from "pg";
import { quoteIdentifier, quoteLiteral } from "./connection.js";

export interface TableCopy {
  name: string;
  /** Columns a copy inserts (generated columns excluded). */
  columns: string[];
  /** Whether an INSERT needs OVERRIDING SYSTEM VALUE (identity ALWAYS columns). */
  identityAlways: boolean;
}

export interface SequenceState {
  name: string;
  /** last_value (as text), or null when the sequence was never used. */
  value: string | null;
}

export interface SchemaDump {
  /** Types, functions, sequences, tables: what data needs to exist. */
  pre: string[];
  /** Constraints, indexes, foreign keys, ownerships, views, triggers: added after the data. */
  post: string[];
  tables: TableCopy[];
  sequences: SequenceState[];
}

const INTEGER = /^-?\d+$/;

function integer(value: unknown): string {
  const text = String(value);
  if (!INTEGER.test(text)) throw new Error(`postgres: unexpected catalog value ${text}`);
  return text;
}

async function rows<R>(client: PoolClient, text: string, values: unknown[] = []): Promise<R[]> {
  return (await client.query(text, values)).rows as R[];
}

/**
 * Oids of the objects of one system catalog that depend on the namespace `$1`
 * (an index scan of pg_depend_reference_index). `catalog` is one of ours.
 */
function members(catalog: "pg_class" | "pg_type" | "pg_proc"): string {
  return `select d.objid from pg_depend d
           where d.refclassid = 'pg_namespace'::regclass and d.refobjid = $1 and d.refobjsubid = 0
             and d.classid = '${catalog}'::regclass`;
}

/** The relations of namespace `$1` but its indexes (and standalone composite types). */
const RELATIONS = `select c.* from pg_class c where c.oid in (${members("pg_class")}) and c.relnamespace = $1`;

/** Every pg_class row of namespace `$1`: RELATIONS, their indexes, composite types' relations. */
const ALL_RELATIONS = `${RELATIONS}
  union all
  select c.* from pg_index i join pg_class c on c.oid = i.indexrelid
   where i.indrelid in (select r.oid from (${RELATIONS}) r) and c.relnamespace = $1
  union all
  select c.* from pg_type t join pg_class c on c.oid = t.typrelid
   where t.oid in (${members("pg_type")}) and t.typtype = 'c' and c.relnamespace = $1`;

/** The types of namespace `$1` but tables' row types and arrays (which depend on their table or element). */
const TYPES = `select t.* from pg_type t where t.oid in (${members("pg_type")}) and t.typnamespace = $1`;

/** Dumps `schema` (the current search_path) as DDL. Throws on objects it cannot recreate. */
export async function dumpSchema(client: PoolClient, schema: string): Promise<SchemaDump> {
  const ns = (
    await rows<{ oid: number }>(client, "select oid from pg_namespace where nspname = $1", [schema])
  )[0];
  if (!ns) throw new Error(`postgres: schema ${schema} does not exist`);
  const oid = ns.oid;

  const unsupported = await rows<{ what: string }>(
    client,
    `select format('%s %s', case c.relkind when 'm' then 'materialized view' when 'p' then 'partitioned table'
              when 'f' then 'foreign table' when 'c' then 'composite type' else 'relation' end, c.relname) as what
         from (${ALL_RELATIONS}) c where c.relkind not in ('r', 'i', 'S', 'v', 't')
     union all
     select format('type %s', t.typname) from (${TYPES}) t
      where t.typtype not in ('e', 'c') and t.typcategory <> 'A'
     union all
     select format('aggregate or window function %s', p.proname) from pg_proc p
      where p.oid in (${members("pg_proc")}) and p.pronamespace = $1 and p.prokind not in ('f', 'p')
     union all
     select format('inherited table %s', c.relname) from pg_inherits i join (${ALL_RELATIONS}) c on c.oid = i.inhrelid`,
    [oid],
  );
  if (unsupported.length > 0) {
    throw new Error(
      `postgres: cannot copy ${unsupported.map((u) => u.what).join(", ")} (use pg_dump for such schemas)`,
    );
  }

  const pre: string[] = [];
  const post: string[] = [];

  for (const type of await rows<{ name: string; labels: string[] }>(
    client,
    `select t.typname as name, array_agg(e.enumlabel::text order by e.enumsortorder) as labels
       from (${TYPES}) t join pg_enum e on e.enumtypid = t.oid
      group by t.oid, t.typname order by t.oid`,
    [oid],
  )) {
    pre.push(
      `create type ${quoteIdentifier(type.name)} as enum (${type.labels.map(quoteLiteral).join(", ")})`,
    );
  }

  for (const fn of await rows<{ def: string; prefix: string }>(
    client,
    `select pg_get_functiondef(p.oid) as def, quote_ident(n.nspname) || '.' as prefix
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where p.oid in (${members("pg_proc")}) and p.pronamespace = $1 order by p.oid`,
    [oid],
  )) {
    // pg_get_functiondef always qualifies the function's name with its schema: drop that.
    const match = /^CREATE OR REPLACE (FUNCTION|PROCEDURE) /.exec(fn.def);
    if (!match || !fn.def.startsWith(fn.prefix, match[0].length)) {
      throw new Error("postgres: unexpected function definition");
    }
    pre.push(match[0] + fn.def.slice(match[0].length + fn.prefix.length));
  }

  // Sequences, except those identity columns create themselves.
  for (const seq of await rows<{
    name: string;
    type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cache: string;
    cycle: boolean;
  }>(
    client,
    `select c.relname as name, format_type(s.seqtypid, null) as type, s.seqstart as start,
            s.seqincrement as increment, s.seqmin as min, s.seqmax as max, s.seqcache as cache,
            s.seqcycle as cycle
       from pg_sequence s join (${RELATIONS}) c on c.oid = s.seqrelid
      where not exists (select 1 from pg_depend d
                         where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'i')
      order by c.oid`,
    [oid],
  )) {
    if (!/^(smallint|integer|bigint)$/.test(seq.type))
      throw new Error("postgres: unexpected sequence type");
    pre.push(
      `create sequence ${quoteIdentifier(seq.name)} as ${seq.type} increment by ${integer(seq.increment)}` +
        ` minvalue ${integer(seq.min)} maxvalue ${integer(seq.max)} start with ${integer(seq.start)}` +
        ` cache ${integer(seq.cache)}${seq.cycle ? " cycle" : " no cycle"}`,
    );
  }

  const tables = await rows<{ oid: number; name: string; unlogged: boolean }>(
    client,
    `select c.oid, c.relname as name, c.relpersistence = 'u' as unlogged
       from (${RELATIONS}) c where c.relkind = 'r' order by c.oid`,
    [oid],
  );
  const columns = await rows<{
    table: number;
    name: string;
    type: string;
    notnull: boolean;
    default: string | null;
    identity: string;
    generated: string;
    collation: string | null;
  }>(
    client,
    `select a.attrelid as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as notnull, pg_get_expr(d.adbin, d.adrelid, true) as default,
            a.attidentity as identity, a.attgenerated as generated,
            (select quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
               from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace
              where co.oid = a.attcollation and a.attcollation <> t.typcollation) as collation
       from (${RELATIONS}) c
       join pg_attribute a on a.attrelid = c.oid
       join pg_type t on t.oid = a.atttypid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`,
    [oid],
  );
  const copies: TableCopy[] = [];
  for (const table of tables) {
    const own = columns.filter((c) => c.table === table.oid);
    const defs = own.map((c) => {
      let def = `${quoteIdentifier(c.name)} ${c.type}`;
      if (c.collation) def += ` collate ${c.collation}`;
      if (c.generated === "s") def += ` generated always as (${c.default}) stored`;
      else if (c.identity === "a") def += " generated always as identity";
      else if (c.identity === "d") def += " generated by default as identity";
      else if (c.default !== null) def += ` default ${c.default}`;
      if (c.notnull) def += " not null";
      return def;
    });
    pre.push(
      `create ${table.unlogged ? "unlogged " : ""}table ${quoteIdentifier(table.name)} (${defs.join(", ")})`,
    );
    copies.push({
      name: table.name,
      columns: own.filter((c) => c.generated !== "s").map((c) => c.name),
      identityAlways: own.some((c) => c.identity === "a"),
    });
  }

  const foreign: string[] = [];
  for (const con of await rows<{ table: string; name: string; def: string; type: string }>(
    client,
    `select c.relname as table, k.conname as name, pg_get_constraintdef(k.oid, true) as def, k.contype as type
       from (${RELATIONS}) c join pg_constraint k on k.conrelid = c.oid
      where k.connamespace = $1 and k.contype in ('p', 'u', 'c', 'x', 'f')
      order by k.oid`,
    [oid],
  )) {
    const statement = `alter table ${quoteIdentifier(con.table)} add constraint ${quoteIdentifier(con.name)} ${con.def}`;
    // Foreign keys last, after the indexes (they may need a unique index).
    (con.type === "f" ? foreign : post).push(statement);
  }

  for (const index of await rows<{ def: string }>(
    client,
    `select pg_get_indexdef(i.indexrelid, 0, true) as def
       from (${RELATIONS}) r
       join pg_index i on i.indrelid = r.oid
       join pg_class c on c.oid = i.indexrelid
      where c.relnamespace = $1
        -- The constraint that owns an index is on the index's table (pg_constraint has no index on conindid).
        and not exists (select 1 from pg_constraint k
                         where k.conrelid = i.indrelid and k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))
      order by i.indexrelid`,
    [oid],
  )) {
    post.push(index.def);
  }
  post.push(...foreign);

  for (const owned of await rows<{ seq: string; table: string; column: string }>(
    client,
    `select s.relname as seq, t.relname as table, a.attname as column
       from (${RELATIONS}) s
       join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid
       join pg_class t on t.oid = d.refobjid
       join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
      where d.deptype = 'a' and s.relkind = 'S'
      order by s.oid`,
    [oid],
  )) {
    post.push(
      `alter sequence ${quoteIdentifier(owned.seq)} owned by ${quoteIdentifier(owned.table)}.${quoteIdentifier(owned.column)}`,
    );
  }

  for (const view of await rows<{ name: string; def: string }>(
    client,
    `select c.relname as name, pg_get_viewdef(c.oid, true) as def
       from (${RELATIONS}) c where c.relkind = 'v' order by c.oid`,
    [oid],
  )) {
    post.push(`create view ${quoteIdentifier(view.name)} as ${view.def.replace(/;\s*$/, "")}`);
  }

  for (const trigger of await rows<{ def: string }>(
    client,
    `select pg_get_triggerdef(g.oid, true) as def from (${ALL_RELATIONS}) c join pg_trigger g on g.tgrelid = c.oid
      where not g.tgisinternal order by g.oid`,
    [oid],
  )) {
    post.push(trigger.def);
  }

  const sequences = await rows<{ name: string; value: string | null }>(
    client,
    // What pg_sequences says (sequencename, last_value), without its scan of every sequence.
    `select c.relname as name,
            case when has_sequence_privilege(c.oid, 'SELECT,USAGE') then pg_sequence_last_value(c.oid::regclass)
                 else null::bigint end::text as value
       from (${RELATIONS}) c join pg_sequence s on s.seqrelid = c.oid
      where c.relkind = 'S' order by c.relname`,
    [oid],
  );
  for (const seq of sequences) if (seq.value !== null) integer(seq.value);

  return { pre, post, tables: copies, sequences };
}

/** `insert into "t" (...) [overriding system value] select ... from <source>`. */
export function insertSelect(table: TableCopy, source: string): string {
  const cols = table.columns.map(quoteIdentifier).join(", ");
  return (
    `insert into ${quoteIdentifier(table.name)} (${cols})` +
    `${table.identityAlways ? " overriding system value" : ""} select ${cols} from ${source}`
  );
}

/** Sets a sequence (in the current search_path) to a dumped state. */
export function setSequence(seq: SequenceState): string | undefined {
  if (seq.value === null) return undefined;
  return `select setval(${quoteLiteral(quoteIdentifier(seq.name))}::regclass, ${integer(seq.value)}, true)`;
}

/** Statements a restore accepts from a backup file: DDL that `dumpSchema` writes, nothing else. */
const QUOTED = `"(?:[^"]|"")*"`;
const ALLOWED_DDL = new RegExp(
  `^(create type |create or replace (function|procedure) |create sequence |create (unlogged )?table |alter table ${QUOTED} add constraint |create (unique )?index |alter sequence ${QUOTED} owned by |create view |create (constraint )?trigger )`,
  "i",
);

export function isRestorableStatement(statement: string): boolean {
  return typeof statement === "string" && ALLOWED_DDL.test(statement);
}
