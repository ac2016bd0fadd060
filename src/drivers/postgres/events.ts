/**
 * Events between processes on one PostgreSQL database, over LISTEN/NOTIFY.
 *
 * - Sending: `pg_notify(channel, note)`. A transaction's events are sent on
 *   its own connection before COMMIT, so PostgreSQL delivers them when it
 *   commits, in commit order (one tenant's writers are serialised by its
 *   advisory lock), and drops them if it rolls back. Other events are sent
 *   at once, in a statement of their own.
 * - A NOTIFY payload must be shorter than 8000 bytes: a bigger message is
 *   inserted into `<catalog schema>.events_outbox` in the same transaction
 *   and its id notified; receivers read it back. Rows older than the
 *   retention (default 10 minutes) are pruned by every listening process.
 * - Receiving: one dedicated connection per process (not from the pools)
 *   runs `LISTEN`; when it is lost the transport reports it and reconnects
 *   with backoff. Events committed while it is down never reach this
 *   process (NOTIFY does not keep them for absent listeners).
 *
 * Notes: `m<seq>:<message>` (inline; the sequence number keeps PostgreSQL
 * from folding identical notes of one transaction into one) or `o<id>`
 * (in the outbox). Messages are opaque here; the hub encodes them.
 */
import { createHash } from "node:crypto";
import { CompiledQuery, type DatabaseConnection } from "kysely";
import pg from "pg";
import type { EventTransport, EventTransportOptions } from "../driver.js";
import { quoteIdentifier } from "./connection.js";

/** PostgreSQL refuses NOTIFY payloads of this many bytes or more. */
export const NOTIFY_PAYLOAD_LIMIT = 8000;
const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
const PRUNE_INTERVAL_MS = 60_000;
/** The LISTEN connection's application_name (as pg_stat_activity shows it). */
export const LISTENER_APPLICATION_NAME = "tenantbase-events";

export interface PostgresEventsOptions {
  /**
   * Where the LISTEN connection goes (default: the driver's url). Behind
   * PgBouncer in transaction mode, point it at PostgreSQL itself: LISTEN
   * needs a session of its own.
   */
  listenUrl?: string;
  /** How long large messages stay in the outbox table. Default 10 minutes. */
  outboxRetentionMs?: number;
}

/** The NOTIFY channel of a catalog schema (one per deployment sharing a database). */
export function eventChannelOf(catalogSchema: string): string {
  const name = `${catalogSchema}_events`;
  if (name.length <= 63) return name;
  return `tb_events_${createHash("sha256").update(catalogSchema).digest("hex").slice(0, 32)}`;
}

/** The outbox of a catalog schema, qualified. */
export function outboxTable(catalogSchema: string): string {
  return `${quoteIdentifier(catalogSchema)}.events_outbox`;
}

/** Creates the outbox table (run at catalog initialisation, under the catalog's lock). */
export function createOutboxStatement(catalogSchema: string): string {
  return `create table if not exists ${outboxTable(catalogSchema)} (
    id bigint generated always as identity primary key,
    message text not null,
    created_at timestamptz not null default clock_timestamp()
  )`;
}

type Run = (text: string, values: unknown[]) => Promise<Array<Record<string, unknown>>>;

export class PostgresEventTransport implements EventTransport {
  readonly channel: string;
  readonly #outbox: string;
  readonly #pool: pg.Pool;
  readonly #config: pg.ClientConfig;
  readonly #retentionMs: number;
  readonly #onError: EventTransportOptions["onError"];
  #receive: ((message: string) => void) | undefined;
  #client: pg.Client | undefined;
  /** Deliveries waiting for an outbox read (later ones wait behind them, to keep the order). */
  #pending = 0;
  #delivery: Promise<void> = Promise.resolve();
  #sent = 0;
  #retryMs = MIN_RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** How many times the LISTEN connection was established. */
  connects = 0;

  constructor(options: {
    pool: pg.Pool;
    clientConfig: pg.ClientConfig;
    catalogSchema: string;
    retentionMs?: number;
    onError: EventTransportOptions["onError"];
  }) {
    this.#pool = options.pool;
    this.#config = {
      // A connection attempt that hangs is retried rather than awaited forever (hub.ready() waits for it).
      connectionTimeoutMillis: 10_000,
      ...options.clientConfig,
      keepAlive: true,
      application_name: LISTENER_APPLICATION_NAME,
    };
    this.channel = eventChannelOf(options.catalogSchema);
    this.#outbox = outboxTable(options.catalogSchema);
    this.#retentionMs = options.retentionMs ?? 10 * 60_000;
    if (!Number.isFinite(this.#retentionMs) || this.#retentionMs < 0) {
      throw new Error("postgres: events.outboxRetentionMs must be a non-negative number");
    }
    this.#onError = options.onError;
  }

  /** Whether the LISTEN connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  async send(messages: readonly string[], connection?: DatabaseConnection): Promise<void> {
    if (messages.length === 0) return;
    if (this.#closed) throw new Error("postgres: the event transport is closed");
    if (connection) {
      await this.#sendWith(async (text, values) => {
        const result = await connection.executeQuery(CompiledQuery.raw(text, values));
        return result.rows as Array<Record<string, unknown>>;
      }, messages);
      return;
    }
    if (messages.every((message) => this.#fits(message))) {
      // One statement, its own transaction: nothing to roll back.
      await this.#sendWith(
        async (text, values) => (await this.#pool.query(text, values)).rows,
        [...messages],
      );
      return;
    }
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query("begin");
      try {
        await this.#sendWith(
          async (text, values) => (await client.query(text, values)).rows,
          [...messages],
        );
        await client.query("commit");
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

  #fits(message: string): boolean {
    // The note adds `m<seq>:`; 24 bytes covers any sequence number.
    return Buffer.byteLength(message) + 24 < NOTIFY_PAYLOAD_LIMIT;
  }

  async #sendWith(run: Run, messages: readonly string[]): Promise<void> {
    const notes: string[] = [];
    for (const message of messages) {
      if (this.#fits(message)) {
        notes.push(`m${++this.#sent}:${message}`);
      } else {
        const rows = await run(`insert into ${this.#outbox} (message) values ($1) returning id`, [
          message,
        ]);
        notes.push(`o${String(rows[0]?.id)}`);
      }
    }
    // unnest yields the notes in order, so they are queued (and delivered) in order.
    await run("select pg_notify($1, note) from unnest($2::text[]) as note", [this.channel, notes]);
  }

  async listen(receive: (message: string) => void): Promise<void> {
    if (this.#receive) throw new Error("postgres: the event transport is listening already");
    this.#receive = receive;
    this.#pruneTimer = setInterval(
      () => {
        this.prune().catch((error) => this.#onError(error, "event transport: pruning the outbox"));
      },
      Math.min(PRUNE_INTERVAL_MS, Math.max(1000, this.#retentionMs)),
    );
    this.#pruneTimer.unref();
    await this.#connect();
  }

  async #connect(): Promise<void> {
    this.#retryTimer = undefined;
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    let gone = false;
    let connected = false;
    const lost = (error: unknown) => {
      if (gone) return;
      gone = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#onError(
        error,
        connected
          ? "event transport: lost the LISTEN connection; reconnecting (events other processes commit meanwhile do not reach this process's subscribers)"
          : "event transport: cannot LISTEN; retrying (other processes' events do not reach this process's subscribers until then)",
      );
      this.#retryTimer = setTimeout(() => void this.#connect(), this.#retryMs);
      this.#retryTimer.unref();
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    };
    client.on("error", lost);
    client.on("end", () => lost(new Error("postgres: the LISTEN connection ended")));
    client.on("notification", (notification) => {
      if (notification.channel === this.channel && notification.payload) {
        this.#notified(client, notification.payload);
      }
    });
    try {
      await client.connect();
      await client.query(`listen ${quoteIdentifier(this.channel)}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (gone) return;
    if (this.#closed) {
      gone = true;
      await client.end().catch(() => {});
      return;
    }
    connected = true;
    this.#client = client;
    this.connects++;
    this.#retryMs = MIN_RETRY_MS;
  }

  #notified(client: pg.Client, note: string): void {
    if (note.startsWith("m")) {
      const message = note.slice(note.indexOf(":") + 1);
      if (this.#pending === 0) this.#emit(message);
      else this.#enqueue(async () => message);
    } else if (note.startsWith("o")) {
      const id = note.slice(1);
      this.#enqueue(async () => {
        const { rows } = await client.query(`select message from ${this.#outbox} where id = $1`, [
          id,
        ]);
        if (rows.length === 0) throw new Error(`outbox message ${id} is gone (pruned?)`);
        return String(rows[0].message);
      });
    }
  }

  /** Delivers after every earlier message, once `read` resolves. */
  #enqueue(read: () => Promise<string>): void {
    this.#pending++;
    this.#delivery = this.#delivery
      .then(read)
      .then(
        (message) => this.#emit(message),
        (error) => this.#onError(error, "event transport: a large event could not be read"),
      )
      .finally(() => {
        this.#pending--;
      });
  }

  #emit(message: string): void {
    try {
      this.#receive?.(message);
    } catch (error) {
      this.#onError(error, "event transport: delivering an event");
    }
  }

  /** Deletes outbox rows older than `olderThanMs` (default: the retention); returns how many. */
  async prune(olderThanMs = this.#retentionMs): Promise<number> {
    try {
      const result = await this.#pool.query(
        `delete from ${this.#outbox} where created_at < clock_timestamp() - $1 * interval '1 millisecond'`,
        [olderThanMs],
      );
      return result.rowCount ?? 0;
    } catch (error) {
      // Before the catalog made the table there is nothing to prune.
      if ((error as { code?: string })?.code === "42P01") return 0;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#pruneTimer);
    await this.#delivery;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
