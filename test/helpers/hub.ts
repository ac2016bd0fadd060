import { join } from "node:path";
import type { Driver } from "kysely";
import {
  createTenantbase,
  type Migration,
  type PoolOptions,
  type StorageDriver,
  sqlite,
  type Tenantbase,
} from "../../src/index.js";
import { tempDir } from "./temp.js";

export const notesMigration: Migration = {
  name: "0001_notes",
  async up(db) {
    await db.schema
      .createTable("notes")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("body", "text", (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable("notes").execute();
  },
};

export interface NotesDB {
  notes: { id: number | null; body: string };
}

export interface OpenCounter {
  open: number;
  maxOpen: number;
}

/** Wraps a driver to count how many tenant databases are open at once. */
export function countingDriver(inner: StorageDriver): {
  driver: StorageDriver;
  counter: OpenCounter;
} {
  const counter: OpenCounter = { open: 0, maxOpen: 0 };
  const open = async (storage: string): Promise<Driver> => {
    const driver = await inner.open(storage);
    counter.open++;
    counter.maxOpen = Math.max(counter.maxOpen, counter.open);
    const destroy = driver.destroy.bind(driver);
    driver.destroy = async () => {
      counter.open--;
      await destroy();
    };
    return driver;
  };
  const driver = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "open") return open;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { driver, counter };
}

export interface TestHub {
  hub: Tenantbase;
  dir: string;
}

export function testHub(
  options: {
    pool?: PoolOptions;
    migrations?: Migration[];
    driver?: (dir: string) => StorageDriver;
  } = {},
): TestHub {
  const dir = join(tempDir(), "data");
  const driver = options.driver ? options.driver(dir) : sqlite({ dir });
  const hub = createTenantbase({
    driver,
    migrations: options.migrations ?? [notesMigration],
    ...(options.pool ? { pool: options.pool } : {}),
  });
  return { hub, dir };
}
