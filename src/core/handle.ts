/**
 * Tenant handles: what `hub.tenant(key)` returns. A handle reaches exactly one
 * tenant's database: its Kysely instance runs every query through the pool
 * (lease, the tenant's queue, its connection), so it works across sleeps and
 * wakes, and can never address another tenant.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  type QueryCompiler,
  type Transaction,
  type TransactionSettings,
} from "kysely";
import type { ActionCallers, ActionDefinitions } from "../actions/index.js";
import { dialectOf, type StorageDriver } from "../drivers/driver.js";
import { NestedTenantAccess } from "./errors.js";
import type { EventBus } from "./events.js";
import type { PoolEntry, TenantPool } from "./pool.js";

export interface TenantHandle<DB = any, A extends ActionDefinitions = ActionDefinitions> {
  /** The tenant key. */
  readonly key: string;
  /** Kysely over this tenant's database only. */
  readonly db: Kysely<DB>;
  /**
   * Runs `fn` in one transaction on this tenant, alone (after every earlier
   * operation on the tenant, before every later one). Events broadcast inside
   * are published after commit, in order, and dropped on rollback.
   */
  transaction<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T>;
  /**
   * Publishes an event to this tenant's subscribers: after commit when called
   * inside `transaction(fn)`, at once otherwise.
   */
  broadcast(event: string, payload?: unknown): void;
  /** The tenant definition's actions: `actions.addEmployee(input, { auth })` (docs/actions.md). */
  readonly actions: ActionCallers<A>;
}

interface TransactionContext {
  readonly hub: object;
  readonly key: string;
  readonly events: Array<[string, unknown]>;
  /** Whether the transaction's connection is taken (any later acquire would deadlock). */
  holding: boolean;
}

const transactionContext = new AsyncLocalStorage<TransactionContext>();

function currentTransaction(hub: object, key: string): TransactionContext | undefined {
  const context = transactionContext.getStore();
  return context && context.hub === hub && context.key === key ? context : undefined;
}

/** A Kysely driver that borrows the tenant's connection from the pool for each use. */
class PooledTenantDriver implements Driver {
  readonly #pool: TenantPool;
  readonly #key: string;
  readonly #hub: object;
  readonly #bus: EventBus;

  constructor(pool: TenantPool, key: string, hub: object, bus: EventBus) {
    this.#pool = pool;
    this.#key = key;
    this.#hub = hub;
    this.#bus = bus;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const context = currentTransaction(this.#hub, this.#key);
    if (context) {
      if (context.holding) throw new NestedTenantAccess(this.#key);
      context.holding = true;
    }
    const entry = this.#pool.leaseIfOpen(this.#key) ?? (await this.#pool.lease(this.#key));
    if (!entry.mutex.tryLock()) await entry.mutex.lock();
    try {
      return await entry.opened.driver.acquireConnection();
    } catch (error) {
      entry.mutex.unlock();
      this.#pool.release(entry);
      throw error;
    }
  }

  #entry(): PoolEntry {
    // A leased entry stays open until released, so the open one is ours.
    const entry = this.#pool.peek(this.#key);
    if (!entry) throw new Error(`tenant ${JSON.stringify(this.#key)} closed while leased`);
    return entry;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#entry().opened.driver.beginTransaction(connection, settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const context = currentTransaction(this.#hub, this.#key);
    // Other processes get the events inside the transaction: at commit, in commit order, never on rollback.
    if (context?.events.length) {
      await this.#bus.sendInTransaction(this.#key, context.events, connection);
    }
    await this.#entry().opened.driver.commitTransaction(connection);
    // Publish before the tenant's queue moves on, so events go out in commit order.
    if (context) {
      const events = context.events.splice(0);
      // Outside the transaction's context: what a listener starts (another action on
      // this tenant, say) queues after this transaction instead of counting as nested.
      transactionContext.exit(() => {
        for (const [name, payload] of events) this.#bus.deliver(this.#key, name, payload);
      });
    }
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#entry().opened.driver.rollbackTransaction(connection);
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#entry().opened.driver.savepoint?.(connection, name, compile);
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#entry().opened.driver.rollbackToSavepoint?.(connection, name, compile);
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler["compileQuery"],
  ): Promise<void> {
    await this.#entry().opened.driver.releaseSavepoint?.(connection, name, compile);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const entry = this.#entry();
    try {
      await entry.opened.driver.releaseConnection(connection);
    } finally {
      entry.mutex.unlock();
      this.#pool.release(entry);
    }
  }

  async destroy(): Promise<void> {
    // The pool owns the tenant's database; a handle has nothing of its own to free.
  }
}

export function createHandle<DB>(
  hub: object,
  key: string,
  pool: TenantPool,
  storage: StorageDriver,
  bus: EventBus,
  actions?: (handle: TenantHandle) => Record<string, unknown>,
): TenantHandle<DB> {
  const db = new Kysely<DB>({
    dialect: dialectOf(storage, new PooledTenantDriver(pool, key, hub, bus)),
  });
  let callers: Record<string, unknown> | undefined;
  const handle: TenantHandle<DB> = {
    key,
    db,
    async transaction<T>(fn: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
      if (currentTransaction(hub, key)?.holding) throw new NestedTenantAccess(key);
      const context: TransactionContext = { hub, key, events: [], holding: false };
      // Events raised in fn are published by commitTransaction, or dropped on rollback.
      return transactionContext.run(context, () => db.transaction().execute(fn));
    },
    broadcast(event: string, payload?: unknown): void {
      const context = currentTransaction(hub, key);
      if (context) context.events.push([event, payload]);
      else bus.publish(key, event, payload);
    },
    get actions() {
      callers ??= actions ? actions(handle) : Object.freeze(Object.create(null));
      return callers as ActionCallers;
    },
  };
  return handle;
}
