/**
 * The pool of open tenants. A tenant opens on first use (wake), closes after
 * `idleTimeoutMs` without use (sleep), and the least recently used idle one
 * closes when `maxOpen` would be exceeded. Every use holds a lease; a leased
 * tenant is never closed, so an in-flight operation never loses its database.
 *
 * Each open tenant has one mutex: the tenant's operation queue. Operations on
 * one tenant run one at a time in arrival order; other tenants are unaffected.
 */
import type { Driver } from "kysely";
import { Mutex } from "../tools/mutex.js";
import { HubClosed, InvalidArgument, PoolTimeout } from "./errors.js";

export interface PoolOptions {
  /** Most tenants open at once (file descriptors: about 3 per open SQLite tenant). Default 1000. */
  maxOpen?: number;
  /** Close a tenant after this long without use. Default 60 000 ms; 0 disables. */
  idleTimeoutMs?: number;
  /** How long a wake may wait for a free slot when every open tenant is in use. Default 30 000 ms. */
  acquireTimeoutMs?: number;
}

/** What waking a tenant produces. */
export interface OpenedTenant {
  readonly storage: string;
  readonly driver: Driver;
}

export interface PoolEntry {
  readonly key: string;
  readonly opened: OpenedTenant;
  /** The tenant's operation queue. */
  readonly mutex: Mutex;
  /** Leases held or waiting on the mutex; the entry closes only at zero. */
  refs: number;
  lastUsed: number;
  /** Set by exclusive(): called when refs drops to zero. */
  drained: (() => void) | undefined;
  /** Per-entry values the hub keeps (the handle). */
  handle: unknown;
}

export interface PoolHooks {
  wake(key: string): Promise<OpenedTenant>;
  sleep(entry: PoolEntry): Promise<void>;
}

interface SlotWaiter {
  resolve(): void;
}

export interface PoolStats {
  open: number;
  opening: number;
  leased: number;
  waitingForSlot: number;
  wakes: number;
  sleeps: number;
  evictions: number;
}

export class TenantPool {
  readonly maxOpen: number;
  readonly idleTimeoutMs: number;
  readonly acquireTimeoutMs: number;
  readonly #hooks: PoolHooks;
  /** Open tenants, least recently used first (a Map keeps insertion order). */
  readonly #open = new Map<string, PoolEntry>();
  readonly #opening = new Map<string, Promise<PoolEntry>>();
  readonly #closing = new Map<string, Promise<void>>();
  readonly #locks = new Map<string, Promise<void>>();
  #slotWaiters: SlotWaiter[] = [];
  /** Slots taken by wakes in progress (past waiting for room, not yet in #open). */
  #reserved = 0;
  /** Slots still taken by tenants being closed (their files are not closed yet). */
  #closingCount = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  #stats = { wakes: 0, sleeps: 0, evictions: 0 };

  constructor(options: PoolOptions, hooks: PoolHooks) {
    this.maxOpen = options.maxOpen ?? 1000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 30_000;
    if (!Number.isInteger(this.maxOpen) || this.maxOpen < 1) {
      throw new InvalidArgument("pool.maxOpen must be a positive integer.");
    }
    if (!(this.idleTimeoutMs >= 0) || !(this.acquireTimeoutMs >= 0)) {
      throw new InvalidArgument("pool timeouts must be non-negative numbers of milliseconds.");
    }
    this.#hooks = hooks;
    if (this.idleTimeoutMs > 0 && Number.isFinite(this.idleTimeoutMs)) {
      const every = Math.max(10, Math.min(1000, Math.floor(this.idleTimeoutMs / 2)));
      this.#sweeper = setInterval(() => this.#sweep(), every);
      this.#sweeper.unref();
    }
  }

  get size(): number {
    return this.#open.size;
  }

  stats(): PoolStats {
    let leased = 0;
    for (const entry of this.#open.values()) if (entry.refs > 0) leased++;
    return {
      open: this.#open.size,
      opening: this.#opening.size,
      leased,
      waitingForSlot: this.#slotWaiters.length,
      ...this.#stats,
    };
  }

  /** The open entry of a tenant, if any (no lease taken). */
  peek(key: string): PoolEntry | undefined {
    return this.#open.get(key);
  }

  isOpen(key: string): boolean {
    return this.#open.has(key);
  }

  /** Takes a lease on an open tenant without waiting; undefined if it must wake first. */
  leaseIfOpen(key: string): PoolEntry | undefined {
    const entry = this.#open.get(key);
    if (entry === undefined || this.#locks.has(key)) return undefined;
    entry.refs++;
    entry.lastUsed = Date.now();
    // Move to the most recently used end.
    this.#open.delete(key);
    this.#open.set(key, entry);
    return entry;
  }

  /** Takes a lease, waking the tenant if needed. Pair with `release`. */
  async lease(key: string): Promise<PoolEntry> {
    for (;;) {
      if (this.#closed) throw new HubClosed();
      const lock = this.#locks.get(key);
      if (lock) {
        await lock;
        continue;
      }
      const entry = this.leaseIfOpen(key);
      if (entry) return entry;
      const opening = this.#opening.get(key) ?? this.#wake(key);
      const opened = await opening;
      // It may have been closed again before we got here; loop and check.
      if (this.#open.get(key) === opened && !this.#locks.has(key)) {
        opened.refs++;
        opened.lastUsed = Date.now();
        return opened;
      }
    }
  }

  release(entry: PoolEntry): void {
    entry.refs--;
    entry.lastUsed = Date.now();
    if (entry.refs > 0) return;
    if (entry.drained) {
      const drained = entry.drained;
      entry.drained = undefined;
      drained();
      return;
    }
    if (this.#open.get(entry.key) !== entry) return;
    if (this.#slotWaiters.length > 0) this.#wakeSlotWaiter();
    else if (this.#open.size > this.maxOpen) this.#closeEntry(entry, "evict");
  }

  #wake(key: string): Promise<PoolEntry> {
    const opening = (async () => {
      let reserved = false;
      try {
        await this.#closing.get(key);
        await this.#reserveSlot(key);
        reserved = true;
        const opened = await this.#hooks.wake(key);
        const entry: PoolEntry = {
          key,
          opened,
          mutex: new Mutex(),
          refs: 0,
          lastUsed: Date.now(),
          drained: undefined,
          handle: undefined,
        };
        this.#open.set(key, entry);
        this.#stats.wakes++;
        return entry;
      } finally {
        this.#opening.delete(key);
        if (reserved) {
          this.#reserved--;
          // A failed wake frees its slot for someone else.
          if (!this.#open.has(key)) this.#wakeSlotWaiter();
        }
      }
    })();
    this.#opening.set(key, opening);
    return opening;
  }

  /** Waits until one more tenant may open, closing idle ones as needed, and takes that slot. */
  async #reserveSlot(key: string): Promise<void> {
    const deadline = Date.now() + this.acquireTimeoutMs;
    // Tenants being opened count against the limit.
    while (this.#open.size + this.#reserved + this.#closingCount >= this.maxOpen) {
      const victim = this.#leastRecentlyUsedIdle();
      if (victim) {
        await this.#closeEntry(victim, "evict");
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new PoolTimeout(key, this.acquireTimeoutMs);
      await new Promise<void>((resolve) => {
        const waiter: SlotWaiter = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          this.#slotWaiters = this.#slotWaiters.filter((w) => w !== waiter);
          resolve();
        }, remaining);
        this.#slotWaiters.push(waiter);
      });
      if (this.#closed) throw new HubClosed();
    }
    // Taken in the same tick as the check, so no other waiter can take it too.
    this.#reserved++;
  }

  #wakeSlotWaiter(): void {
    this.#slotWaiters.shift()?.resolve();
  }

  #leastRecentlyUsedIdle(): PoolEntry | undefined {
    for (const entry of this.#open.values()) {
      if (entry.refs === 0 && !entry.drained) return entry;
    }
    return undefined;
  }

  /** Removes the entry from the pool at once; the database closes in the background. */
  #closeEntry(entry: PoolEntry, reason: "evict" | "idle" | "exclusive" | "close"): Promise<void> {
    if (this.#open.get(entry.key) !== entry)
      return this.#closing.get(entry.key) ?? Promise.resolve();
    this.#open.delete(entry.key);
    this.#closingCount++;
    this.#stats.sleeps++;
    if (reason === "evict") this.#stats.evictions++;
    const previous = this.#closing.get(entry.key) ?? Promise.resolve();
    const closing = previous
      .then(() => this.#hooks.sleep(entry))
      .catch(() => {})
      .finally(() => {
        this.#closingCount--;
        if (this.#closing.get(entry.key) === closing) this.#closing.delete(entry.key);
        this.#wakeSlotWaiter();
      });
    this.#closing.set(entry.key, closing);
    return closing;
  }

  #sweep(): void {
    const cutoff = Date.now() - this.idleTimeoutMs;
    for (const entry of [...this.#open.values()]) {
      // Least recently used first: the first recent one ends the sweep.
      if (entry.lastUsed > cutoff) break;
      if (entry.refs === 0 && !entry.drained) this.#closeEntry(entry, "idle");
    }
  }

  /**
   * Runs `fn` while the tenant is closed and nothing else can use it: waits
   * for its in-flight operations, closes it, and holds new ones back until
   * `fn` settles. For delete, suspend, restore and migration.
   */
  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let lock = this.#locks.get(key); lock; lock = this.#locks.get(key)) await lock;
    let unlock!: () => void;
    this.#locks.set(
      key,
      new Promise<void>((resolve) => {
        unlock = resolve;
      }),
    );
    try {
      await this.#opening.get(key)?.catch(() => {});
      const entry = this.#open.get(key);
      if (entry) {
        if (entry.refs > 0) {
          await new Promise<void>((resolve) => {
            entry.drained = resolve;
          });
        }
        await this.#closeEntry(entry, "exclusive");
      }
      await this.#closing.get(key);
      return await fn();
    } finally {
      this.#locks.delete(key);
      unlock();
    }
  }

  /**
   * Closes every open tenant once its in-flight operations finish; operations
   * that arrive meanwhile wait and then wake it afresh.
   */
  async closeAll(): Promise<void> {
    const keys = [...this.#open.keys(), ...this.#opening.keys()];
    await Promise.all(keys.map((key) => this.exclusive(key, async () => {})));
  }

  /** Closes every tenant, after in-flight operations finish. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const waiter of this.#slotWaiters.splice(0)) waiter.resolve();
    await Promise.allSettled([...this.#opening.values()]);
    const draining: Promise<void>[] = [];
    for (const entry of [...this.#open.values()]) {
      draining.push(
        (async () => {
          if (entry.refs > 0) {
            await new Promise<void>((resolve) => {
              entry.drained = resolve;
            });
          }
          await this.#closeEntry(entry, "close");
        })(),
      );
    }
    await Promise.all(draining);
    await Promise.allSettled([...this.#closing.values()]);
  }
}
