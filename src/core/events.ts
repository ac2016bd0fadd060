/**
 * The event bus: per-tenant fan-out of events to subscribers. Publishing is
 * keyed by tenant, so a subscriber only ever sees its own tenant's events.
 * Events raised inside a transaction are published by the handle after
 * commit (see handle.ts); the bus itself only delivers.
 */

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

export class EventBus {
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #onListenerError: (error: unknown, event: TenantEvent) => void;

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

  publish(tenant: string, name: string, payload: unknown): void {
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
