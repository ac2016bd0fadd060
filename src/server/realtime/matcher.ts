/**
 * Does one record match a rule, for one subscriber? Realtime checks each
 * event's record against the collection's list or view rule (and the
 * subscription's own `filter`) without touching the tenant's database: the
 * record, as the event carries it, is written to a table of the same shape
 * in a private in-memory SQLite database, the rule compiles to the same SQL
 * the records API runs (PocketBase's semantics, column affinities included),
 * and the row is removed again. Everything is synchronous, so events are
 * checked in commit order and writers never wait on the tenant's queue for
 * subscribers. Rules only ever read the record itself and @request.*, so the
 * one-row table answers exactly what the tenant's table would.
 */
import Database from "better-sqlite3";
import { Kysely, type RawBuilder, type SqlBool, SqliteDialect } from "kysely";
import type { Collection } from "../../collections/collection.js";
import { isMultiple } from "../../collections/definition.js";
import { filterToSql } from "../../collections/filter/index.js";
import type { ApiRecord } from "../../collections/output.js";
import { type Caller, filterContext } from "../../collections/rules.js";

type Row = Record<string, unknown>;

interface ScratchTable {
  collection: Collection;
  name: string;
  columns: string[];
  insert: Database.Statement;
  clear: Database.Statement;
}

/** A compiled condition: SQL text and its parameters. */
export interface Condition {
  sql: string;
  parameters: readonly unknown[];
}

const MAX_STATEMENTS = 500;

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The event's record (the superuser's view) back to the values the database stores. */
export function toStoredRow(collection: Collection, record: ApiRecord): Row {
  const row: Row = {
    id: record.id,
    created: record.created ?? "",
    updated: record.updated ?? "",
  };
  if (collection.isAuth) {
    row.email = record.email ?? "";
    row.emailVisibility = record.emailVisibility ? 1 : 0;
    row.verified = record.verified ? 1 : 0;
  }
  for (const field of collection.fields) {
    const value = record[field.name];
    switch (field.type) {
      case "bool":
        row[field.name] = value ? 1 : 0;
        break;
      case "number":
        row[field.name] = typeof value === "number" ? value : Number(value ?? 0);
        break;
      case "json":
        row[field.name] = value === null || value === undefined ? null : JSON.stringify(value);
        break;
      case "select":
      case "relation":
        row[field.name] = isMultiple(field)
          ? JSON.stringify(Array.isArray(value) ? value : [])
          : String(value ?? "");
        break;
      default:
        row[field.name] = value === null || value === undefined ? "" : String(value);
    }
  }
  return row;
}

export class RecordMatcher {
  readonly #db: Database.Database;
  readonly #compiler: Kysely<any>;
  readonly #tables = new Map<string, ScratchTable>();
  readonly #statements = new Map<string, Database.Statement>();
  #tableCount = 0;

  constructor() {
    this.#db = new Database(":memory:");
    this.#compiler = new Kysely<any>({ dialect: new SqliteDialect({ database: this.#db }) });
  }

  /**
   * Compiles a rule (trusted: written by superusers, may read hidden fields)
   * or a subscriber's filter (untrusted) for this caller. Throws FilterError.
   */
  compile(collection: Collection, expression: string, caller: Caller, trusted: boolean): Condition {
    const condition: RawBuilder<SqlBool> = filterToSql(
      expression,
      filterContext(collection, "sqlite", caller, undefined, trusted),
    );
    const compiled = condition.compile(this.#compiler);
    return { sql: compiled.sql, parameters: compiled.parameters };
  }

  #table(collection: Collection): ScratchTable {
    const known = this.#tables.get(collection.id);
    if (known && known.collection === collection) return known;
    if (known) this.#db.exec(`DROP TABLE ${quote(known.name)}`);
    // Same columns and declared types as the tenant's table (see collections/migrations.ts).
    const columns: Array<[string, string]> = [["id", "text"]];
    if (collection.isAuth) {
      columns.push(
        ["email", "text"],
        ["emailVisibility", "boolean"],
        ["verified", "boolean"],
        ["password", "text"],
        ["tokenKey", "text"],
      );
    }
    for (const field of collection.fields) {
      const type = field.type === "number" ? "numeric" : field.type === "bool" ? "boolean" : "text";
      columns.push([field.name, type]);
    }
    columns.push(["created", "text"], ["updated", "text"]);
    const name = `t${++this.#tableCount}`;
    this.#db.exec(
      `CREATE TABLE ${quote(name)} (${columns.map(([c, t]) => `${quote(c)} ${t}`).join(", ")})`,
    );
    const table: ScratchTable = {
      collection,
      name,
      columns: columns.map(([c]) => c),
      insert: this.#db.prepare(
        `INSERT INTO ${quote(name)} VALUES (${columns.map(() => "?").join(", ")})`,
      ),
      clear: this.#db.prepare(`DELETE FROM ${quote(name)}`),
    };
    this.#tables.set(collection.id, table);
    return table;
  }

  #statement(table: ScratchTable, condition: Condition): Database.Statement {
    const text = `SELECT 1 FROM ${quote(table.name)} WHERE (${condition.sql})`;
    let statement = this.#statements.get(text);
    if (statement) {
      // Most recently used last.
      this.#statements.delete(text);
    } else {
      statement = this.#db.prepare(text);
      if (this.#statements.size >= MAX_STATEMENTS) {
        this.#statements.delete(this.#statements.keys().next().value!);
      }
    }
    this.#statements.set(text, statement);
    return statement;
  }

  /**
   * Runs `fn` with the record in place; `test(condition)` says whether it
   * matches. Each distinct condition is evaluated once per record.
   */
  withRecord<T>(
    collection: Collection,
    row: Row,
    fn: (test: (condition: Condition) => boolean) => T,
  ): T {
    const table = this.#table(collection);
    const results = new Map<string, boolean>();
    let inserted = false;
    const test = (condition: Condition): boolean => {
      const key = `${condition.sql}\u0000${JSON.stringify(condition.parameters)}`;
      let result = results.get(key);
      if (result === undefined) {
        if (!inserted) {
          table.insert.run(...table.columns.map((c) => row[c] ?? null));
          inserted = true;
        }
        try {
          result = !!this.#statement(table, condition).get(...(condition.parameters as unknown[]));
        } catch {
          // A rule that no longer fits the collection (or an odd value) matches nothing.
          result = false;
        }
        results.set(key, result);
      }
      return result;
    };
    try {
      return fn(test);
    } finally {
      if (inserted) table.clear.run();
    }
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
