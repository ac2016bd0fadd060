/**
 * The event bus: per-tenant fan-out of events to subscribers. Publishing is
 * keyed by tenant, so a subscriber only ever sees its own tenant's events.
 * Events raised inside a transaction are published by the handle after
 * commit (see handle.ts); the bus itself only delivers.
 *
 * When the storage is shared by several processes (PostgreSQL), the hub
 * connects the bus to the driver's event transport: published events also
 * go to the other processes (a transaction's inside that transaction, so
 * they arrive at commit, in commit order), and theirs are delivered here,
 * to local subscribers only. Each message carries this bus's origin id, so
 * a process never delivers its own events twice nor sends received ones on.
 *
 * Peer signals (`signalPeers`, `onPeerSignal`) use the same transport for
 * deployment-wide notices between processes ("the collections changed"):
 * they carry no tenant (the empty key, which no tenant has) and reach the
 * other processes only, never this one's subscribers.
 */
import { randomBytes } from "node:crypto";
import type { DatabaseConnection } from "kysely";
import type { EventTransport } from "../drivers/driver.js";

export interface TenantEvent<P = unknown> {
  /** The tenant key. */
  tenant: string;
  /** The event name, e.g. "employeeAdded" or "record" for collection changes. */
  name: string;
  payload: P;
  /** When it was published (ms since the epoch). */
  at: number;
}

export type EventListener = (event: TenantEvent) => void;

/**
 * Receives another process's peer signal. Errors (thrown, rejected, or
 * passed to `report` by work it goes on with) reach the hub's onError.
 */
export type PeerSignalListener = (
  name: string,
  payload: unknown,
  report: (error: unknown) => void,
) => void | Promise<void>;

/** The tenant field of a peer signal's message: no tenant key is empty. */
const PEER_SIGNAL = "";

export class EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #peerListeners = new Set<PeerSignalListener>();
  readonly #onListenerError: (error: unknown, event: TenantEvent) => void;
  /** Tags what this bus sends, so it can tell its own messages from other processes'. */
  readonly #origin = randomBytes(12).toString("base64url");
  #sent = 0;
  #transport: EventTransport | undefined;
  #onTransportError: (error: unknown, context: string) => void = () => {};

  constructor(onListenerError: (error: unknown, event: TenantEvent) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /** Calls `listener` for every event of `tenant`; returns the unsubscribe function. */
  subscribe(tenant: string, listener: EventListener): () => void {
    let set = this.#listeners.get(tenant);
    if (!set) {
      set = new Set();
      this.#listeners.set(tenant, set);
    }
    set.add(listener);
    return () => {
      const current = this.#listeners.get(tenant);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#listeners.delete(tenant);
    };
  }

  /**
   * Sends events to other processes through `transport` from now on, and
   * delivers theirs here; resolves once listening (see EventTransport.listen).
   */
  connect(
    transport: EventTransport,
    onError: (error: unknown, context: string) => void,
  ): Promise<void> {
    this.#transport = transport;
    this.#onTransportError = onError;
    return transport.listen((message) => this.#receive(message));
  }

  /** Whether messages go to other processes (the driver has an event transport). */
  get shared(): boolean {
    return this.#transport !== undefined;
  }

  /** Calls `listener` for every peer signal another process sends; returns the unsubscribe function. */
  onPeerSignal(listener: PeerSignalListener): () => void {
    this.#peerListeners.add(listener);
    return () => {
      this.#peerListeners.delete(listener);
    };
  }

  /**
   * Sends a signal to the other processes (nothing without a transport).
   * With `connection`, inside its transaction (delivered at commit, never on
   * rollback; a failure fails the commit); without, at once.
   */
  async signalPeers(
    name: string,
    payload: unknown,
    connection?: DatabaseConnection,
  ): Promise<void> {
    const transport = this.#transport;
    if (!transport) return;
    const message = this.#encode(PEER_SIGNAL, name, payload);
    if (message !== undefined) await transport.send([message], connection);
  }

  /** Delivers to this process's subscribers, and sends to other processes at once. */
  publish(tenant: string, name: string, payload: unknown): void {
    this.deliver(tenant, name, payload);
    const transport = this.#transport;
    if (!transport) return;
    const message = this.#encode(tenant, name, payload);
    if (message === undefined) return;
    transport
      .send([message])
      .catch((error) =>
        this.#onTransportError(error, `event ${name}: not sent to other processes`),
      );
  }

  /**
   * Sends a transaction's events to other processes inside it, just before
   * it commits (nothing without a transport). A failure fails the commit.
   */
  async sendInTransaction(
    tenant: string,
    events: ReadonlyArray<readonly [string, unknown]>,
    connection: DatabaseConnection,
  ): Promise<void> {
    const transport = this.#transport;
    if (!transport || events.length === 0) return;
    const messages: string[] = [];
    for (const [name, payload] of events) {
      const message = this.#encode(tenant, name, payload);
      if (message !== undefined) messages.push(message);
    }
    if (messages.length > 0) await transport.send(messages, connection);
  }

  /** `[origin, seq, tenant, name, payload?]` as JSON; undefined (reported) when the payload is not JSON. */
  #encode(tenant: string, name: string, payload: unknown): string | undefined {
    const seq = ++this.#sent;
    try {
      const fields = [this.#origin, seq, tenant, name];
      return JSON.stringify(payload === undefined ? fields : [...fields, payload]);
    } catch (error) {
      this.#onTransportError(
        error,
        `event ${name}: the payload is not JSON, so it reaches this process's subscribers only`,
      );
      return undefined;
    }
  }

  #receive(message: string): void {
    let fields: unknown;
    try {
      fields = JSON.parse(message);
    } catch (error) {
      this.#onTransportError(error, "event transport: a message is not JSON");
      return;
    }
    if (
      !Array.isArray(fields) ||
      fields.length < 4 ||
      typeof fields[0] !== "string" ||
      typeof fields[2] !== "string" ||
      typeof fields[3] !== "string"
    ) {
      this.#onTransportError(new Error("malformed event message"), "event transport");
      return;
    }
    // Our own: its subscribers here had it at commit already.
    if (fields[0] === this.#origin) return;
    if (fields[2] === PEER_SIGNAL) {
      for (const listener of [...this.#peerListeners]) {
        const context = `peer signal ${fields[3]}`;
        const report = (error: unknown) => this.#onTransportError(error, context);
        try {
          const result = listener(fields[3], fields[4], report);
          if (result) result.catch(report);
        } catch (error) {
          this.#onTransportError(error, context);
        }
      }
      return;
    }
    this.deliver(fields[2], fields[3], fields[4]);
  }

  /** Delivers to this process's subscribers only. */
  deliver(tenant: string, name: string, payload: unknown): void {
    const set = this.#listeners.get(tenant);
    if (!set) return;
    const event: TenantEvent = { tenant, name, payload, at: Date.now() };
    // Copy: a listener may unsubscribe itself while we iterate.
    for (const listener of [...set]) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }

  /** Number of subscribers of a tenant (or of all tenants). */
  listenerCount(tenant?: string): number {
    if (tenant !== undefined) return this.#listeners.get(tenant)?.size ?? 0;
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }
}
