/**
 * Events between processes on one PostgreSQL database, over LISTEN/NOTIFY.
 *
 * - Sending: every message is inserted into `<catalog schema>.events_outbox`
 *   and notified with its id, in one statement: `insert ... returning id`
 *   feeding `pg_notify(channel, note)`. A transaction's messages are sent
 *   on its own connection before COMMIT, so PostgreSQL delivers them when
 *   it commits, in commit order (one tenant's writers are serialised by its
 *   advisory lock, so its outbox ids are in commit order too), and drops
 *   them (rows and notes) if it rolls back. Other messages are sent at
 *   once, in a statement of their own. Rows older than the retention
 *   (default 10 minutes) are pruned by every listening process.
 * - A NOTIFY payload must be shorter than 8000 bytes: a note carries the
 *   message inline when it fits, else only the id, and receivers read the
 *   row back.
 * - Receiving: one dedicated connection per process (not from the pools)
 *   runs `LISTEN`. It remembers the outbox ids it received; when the
 *   connection is lost it reports it and reconnects with backoff, then
 *   replays from the outbox what was committed meanwhile: it re-reads the
 *   ids above (highest seen − REPLAY_WINDOW), because ids are taken at
 *   insert and may commit out of order, and delivers those it has not seen
 *   (deduplicated by id), in id order, before any newer note.
 * - Self-check: after every `LISTEN` it sends a probe note through the
 *   normal pool and expects it back on the LISTEN connection within
 *   PROBE_TIMEOUT_MS; if it does not come (LISTEN through PgBouncer in
 *   transaction mode), `onError` says so, naming `events.listenUrl`, and it
 *   probes again every PROBE_RETRY_MS.
 *
 * Notes: `i<id>:<message>` (inline), `o<id>` (read it from the outbox),
 * `p<token>` (a probe), and from older versions `m<seq>:<message>`.
 * Messages are opaque here; the hub encodes them.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DatabaseConnection } from "kysely";
import { CompiledQuery } from "kysely";
import pg from "pg";
import type { EventTransport, EventTransportOptions } from "../driver.js";
import { quoteIdentifier } from "./connection.js";

/** PostgreSQL refuses NOTIFY payloads of this many bytes or more. */
export const NOTIFY_PAYLOAD_LIMIT = 8000;
/** A message this long or longer is notified by id only (`i<id>:` takes at most 21 bytes). */
const INLINE_LIMIT = NOTIFY_PAYLOAD_LIMIT - 24;
const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 5000;
const PRUNE_INTERVAL_MS = 60_000;
/**
 * How far below the highest id seen a replay looks. Ids are taken when a
 * row is inserted, just before its transaction commits; a row can commit
 * after rows with higher ids only while it waits for the commit, so at most
 * one per concurrent writer. Far more than any pool has connections.
 */
export const REPLAY_WINDOW = 10_000;
const REPLAY_CHUNK = 500;
/** How long the LISTEN connection's self-check waits for its probe. */
export const PROBE_TIMEOUT_MS = 3000;
/** How often a failed self-check is repeated. */
export const PROBE_RETRY_MS = 30_000;
/** The LISTEN connection's application_name (as pg_stat_activity shows it). */
export const LISTENER_APPLICATION_NAME = "tenantbase-events";

export interface PostgresEventsOptions {
  /**
   * Where the LISTEN connection goes (default: the driver's url). Behind
   * PgBouncer in transaction mode, point it at PostgreSQL itself: LISTEN
   * needs a session of its own (the self-check reports it otherwise).
   */
  listenUrl?: string;
  /**
   * How long messages stay in the outbox table (what a process can replay
   * after its LISTEN connection was down). Default 10 minutes.
   */
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

/**
 * The one statement that sends: the messages become outbox rows (ids in
 * the given order) and each is notified, inline when it fits. pg_notify is
 * volatile, so it runs after the sort: the notes are queued in id order.
 */
function sendStatement(outbox: string): string {
  return `with sent as (
    insert into ${outbox} (message)
    select message from unnest($2::text[]) with ordinality as m(message, n) order by n
    returning id, message
  )
  select pg_notify($1, case when octet_length(message) < ${INLINE_LIMIT}
    then 'i' || id || ':' || message else 'o' || id end)
  from sent order by id`;
}

type Rows = Array<Record<string, unknown>>;

export class PostgresEventTransport implements EventTransport {
  readonly channel: string;
  readonly #outbox: string;
  readonly #send: string;
  readonly #pool: pg.Pool;
  readonly #config: pg.ClientConfig;
  readonly #retentionMs: number;
  readonly #probeTimeoutMs: number;
  readonly #probeRetryMs: number;
  readonly #onError: EventTransportOptions["onError"];
  #receive: ((message: string) => void) | undefined;
  #client: pg.Client | undefined;
  /** Deliveries waiting for a read (later ones wait behind them, to keep the order). */
  #pending = 0;
  #delivery: Promise<void> = Promise.resolve();
  #retryMs = MIN_RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Ends the wait of a replay for a connection attempt (false: it did not listen). */
  #attempt: ((listening: boolean) => void) | undefined;
  /** The highest outbox id seen; undefined until the first LISTEN took its baseline. */
  #maxSeen: number | undefined;
  /** Outbox ids seen (delivered, or there before this process listened) above #maxSeen − REPLAY_WINDOW. */
  readonly #seen = new Set<number>();
  /**
   * Of those, the ids the outbox held when this process first listened: the
   * ones that committed after its LISTEN still arrive as notes, once each.
   */
  readonly #preexisting = new Set<number>();
  /** When the LISTEN connection was lost (cleared by the replay). */
  #lostAt: number | undefined;
  #probeToken: string | undefined;
  #probeTimer: NodeJS.Timeout | undefined;
  /** How many times the LISTEN connection was established. */
  connects = 0;
  /** Messages delivered from the outbox after a reconnect (missed while the connection was down). */
  replayed = 0;
  /** The self-check of the current LISTEN connection. */
  probe: "pending" | "ok" | "failed" = "pending";

  constructor(options: {
    pool: pg.Pool;
    clientConfig: pg.ClientConfig;
    catalogSchema: string;
    retentionMs?: number;
    probeTimeoutMs?: number;
    probeRetryMs?: number;
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
    this.#send = sendStatement(this.#outbox);
    this.#retentionMs = options.retentionMs ?? 10 * 60_000;
    if (!Number.isFinite(this.#retentionMs) || this.#retentionMs < 0) {
      throw new Error("postgres: events.outboxRetentionMs must be a non-negative number");
    }
    this.#probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
    this.#probeRetryMs = options.probeRetryMs ?? PROBE_RETRY_MS;
    this.#onError = options.onError;
  }

  /** Whether the LISTEN connection is up. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  async send(messages: readonly string[], connection?: DatabaseConnection): Promise<void> {
    if (messages.length === 0) return;
    if (this.#closed) throw new Error("postgres: the event transport is closed");
    const values = [this.channel, [...messages]];
    if (connection) {
      await connection.executeQuery(CompiledQuery.raw(this.#send, values));
      return;
    }
    // One statement, its own transaction: the rows and their notes commit together.
    await this.#pool.query(this.#send, values);
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
    // The replay (or the first baseline) goes first in the delivery order, before
    // any note of this connection, and runs once it listens.
    let attempted!: (listening: boolean) => void;
    const attempt = new Promise<boolean>((resolve) => {
      attempted = resolve;
    });
    this.#attempt = attempted;
    this.#enqueue(async () => {
      if (!(await attempt)) return;
      // A failed read is retried a few times (later notes wait: the order holds).
      for (let delay = 200; ; delay *= 2) {
        try {
          await this.#catchUp();
          return;
        } catch (error) {
          if (delay > 1600 || this.#closed) throw error;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    }, "event transport: could not read the outbox after (re)connecting; events committed while the LISTEN connection was down may be missing");
    const lost = (error: unknown) => {
      if (gone) return;
      gone = true;
      attempted(false);
      if (this.#client === client) {
        this.#client = undefined;
        clearTimeout(this.#probeTimer);
        this.#probeToken = undefined;
      }
      if (connected) this.#lostAt ??= Date.now();
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#onError(
        error,
        connected
          ? "event transport: lost the LISTEN connection; reconnecting (events committed meanwhile are replayed from the outbox once it is back)"
          : this.#maxSeen === undefined
            ? "event transport: cannot LISTEN; retrying (other processes' events do not reach this process's subscribers until then)"
            : "event transport: cannot LISTEN again yet; retrying (events committed meanwhile are replayed from the outbox once it is back)",
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
      attempted(false);
      await client.end().catch(() => {});
      return;
    }
    connected = true;
    this.#client = client;
    this.connects++;
    this.#retryMs = MIN_RETRY_MS;
    attempted(true);
    this.#startProbe(client);
  }

  #notified(client: pg.Client, note: string): void {
    const kind = note[0];
    if (kind === "i") {
      const colon = note.indexOf(":");
      const id = Number(note.slice(1, colon));
      const message = note.slice(colon + 1);
      if (this.#pending === 0) this.#take(id, message, true);
      else this.#enqueue(async () => void this.#take(id, message, true));
    } else if (kind === "o") {
      const id = Number(note.slice(1));
      this.#enqueue(async () => {
        if (this.#wasSeen(id, true)) return;
        const { rows } = await client.query(`select message from ${this.#outbox} where id = $1`, [
          id,
        ]);
        if (rows.length === 0) throw new Error(`outbox message ${id} is gone (pruned?)`);
        this.#take(id, String(rows[0].message), true);
      });
    } else if (kind === "p") {
      this.#probeArrived(client, note.slice(1));
    } else if (kind === "m") {
      // From a process of an older version: inline, without an outbox id.
      const message = note.slice(note.indexOf(":") + 1);
      if (this.#pending === 0) this.#emit(message);
      else this.#enqueue(async () => this.#emit(message));
    }
  }

  /** Runs `task` after every earlier delivery. */
  #enqueue(
    task: () => Promise<void>,
    context = "event transport: a large event could not be read",
  ): void {
    this.#pending++;
    this.#delivery = this.#delivery
      .then(task)
      .catch((error) => this.#onError(error, context))
      .finally(() => {
        this.#pending--;
      });
  }

  /** Whether `id` was delivered (or, unless it came as a note, was in the outbox before this process listened). */
  #wasSeen(id: number, live: boolean): boolean {
    return this.#seen.has(id) && !(live && this.#preexisting.has(id));
  }

  /** Delivers outbox message `id` unless it was seen; returns whether it delivered. */
  #take(id: number, message: string, live: boolean): boolean {
    if (!Number.isSafeInteger(id) || this.#wasSeen(id, live)) return false;
    this.#preexisting.delete(id);
    this.#see(id);
    this.#emit(message);
    return true;
  }

  #see(id: number): void {
    this.#seen.add(id);
    if (this.#maxSeen === undefined || id > this.#maxSeen) this.#maxSeen = id;
    if (this.#seen.size > 2 * REPLAY_WINDOW) {
      const floor = this.#maxSeen - REPLAY_WINDOW;
      for (const seen of this.#seen) if (seen <= floor) this.#seen.delete(seen);
    }
  }

  /**
   * On the first LISTEN: what the outbox holds now is not this process's
   * to deliver. On a later one: delivers what was committed while the
   * connection was down (ids in the window it has not seen), in id order.
   */
  async #catchUp(): Promise<void> {
    // Through the pool: the LISTEN connection only listens (and reads large messages).
    const query = async (text: string, values: unknown[]): Promise<Rows> => {
      try {
        return (await this.#pool.query(text, values)).rows;
      } catch (error) {
        // Before the catalog made the table nothing was sent.
        if ((error as { code?: string })?.code === "42P01") return [];
        throw error;
      }
    };
    const first = this.#maxSeen === undefined;
    const from = Math.max(0, (this.#maxSeen ?? Number.MAX_SAFE_INTEGER) - REPLAY_WINDOW);
    const windowed = first
      ? `select id from ${this.#outbox} where id > (select coalesce(max(id), 0) from ${this.#outbox}) - $1 order by id`
      : `select id from ${this.#outbox} where id > $1 order by id`;
    const ids = (await query(windowed, [first ? REPLAY_WINDOW : from])).map((row) =>
      Number(row.id),
    );
    if (first) {
      this.#maxSeen = 0;
      for (const id of ids) {
        this.#see(id);
        this.#preexisting.add(id);
      }
      return;
    }
    // Those that committed after the first LISTEN have arrived as notes by now.
    this.#preexisting.clear();
    const lostAt = this.#lostAt;
    const missed = ids.filter((id) => !this.#seen.has(id));
    for (let k = 0; k < missed.length; k += REPLAY_CHUNK) {
      const rows = await query(
        `select id, message from ${this.#outbox} where id = any($1::bigint[]) order by id`,
        [missed.slice(k, k + REPLAY_CHUNK)],
      );
      for (const row of rows) {
        if (this.#take(Number(row.id), String(row.message), false)) this.replayed++;
      }
    }
    this.#lostAt = undefined;
    if (lostAt !== undefined && Date.now() - lostAt >= this.#retentionMs) {
      this.#onError(
        new Error(
          `postgres: the LISTEN connection was down for ${Date.now() - lostAt} ms, longer than the outbox keeps events (events.outboxRetentionMs ${this.#retentionMs} ms)`,
        ),
        "event transport: events pruned from the outbox meanwhile never reached this process's subscribers",
      );
    }
  }

  /** Sends a probe through the pool; it must come back on `client` (see PROBE_TIMEOUT_MS). */
  #startProbe(client: pg.Client): void {
    clearTimeout(this.#probeTimer);
    if (this.#closed || this.#client !== client) return;
    const token = randomBytes(9).toString("base64url");
    this.#probeToken = token;
    this.probe = "pending";
    const failed = (error: unknown, context: string) => {
      if (this.#client !== client || this.#probeToken !== token) return;
      clearTimeout(this.#probeTimer);
      this.#probeToken = undefined;
      this.probe = "failed";
      this.#onError(error, context);
      this.#probeTimer = setTimeout(() => this.#startProbe(client), this.#probeRetryMs);
      this.#probeTimer.unref();
    };
    this.#probeTimer = setTimeout(
      () =>
        failed(
          new Error(
            `postgres: a NOTIFY sent through the pool did not reach the LISTEN connection within ${this.#probeTimeoutMs} ms`,
          ),
          "event transport: LISTEN receives nothing, so other processes' events do not reach this process's subscribers. Behind PgBouncer in transaction mode, set events.listenUrl to PostgreSQL itself (LISTEN needs a session of its own); checking again in a while",
        ),
      this.#probeTimeoutMs,
    );
    this.#probeTimer.unref();
    this.#pool
      .query("select pg_notify($1, $2)", [this.channel, `p${token}`])
      .catch((error) =>
        failed(error, "event transport: the LISTEN self-check could not send its probe"),
      );
  }

  #probeArrived(client: pg.Client, token: string): void {
    if (this.#client !== client || this.#probeToken !== token) return;
    clearTimeout(this.#probeTimer);
    this.#probeToken = undefined;
    this.probe = "ok";
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
    clearTimeout(this.#probeTimer);
    this.#attempt?.(false);
    await this.#delivery;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}
