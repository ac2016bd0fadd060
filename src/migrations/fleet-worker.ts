/**
 * A fleet rollout worker thread: builds the driver and the migration tracks
 * it was given, then runs the tasks the main thread sends it.
 *
 * Run directly (the module is the worker's entry), it imports what it needs
 * by URL. Run from a bundle (see worker-bundle.ts), it is given those modules
 * already loaded, and imports nothing at run time.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { StorageDriver, WorkerDriverConfig } from "../drivers/driver.js";
import {
  codeMigrationsOf,
  deserializeTracks,
  executeTask,
  type FleetResult,
  loadCodeMigrations,
  type ModuleLoader,
  type ResultMessage,
  type SerializedTrack,
  type TaskMessage,
} from "./fleet.js";

export interface FleetWorkerData {
  driver: WorkerDriverConfig;
  tracks: SerializedTrack[];
  workerModule?: string;
}

/**
 * Serves tasks on this thread's parent port until the thread is terminated.
 * `definition`: the tenant definition's module, when a bundle holds it.
 */
export async function serveFleetTasks(load: ModuleLoader, definition?: unknown): Promise<void> {
  const port = parentPort!;
  const data = workerData as FleetWorkerData;
  try {
    const mod = (await load(data.driver.module)) as Record<
      string,
      new (
        options: unknown,
      ) => StorageDriver
    >;
    const DriverClass = mod[data.driver.exportName];
    if (!DriverClass)
      throw new Error(`${data.driver.module} has no export ${data.driver.exportName}`);
    const driver = new DriverClass(data.driver.options);
    const code = definition
      ? codeMigrationsOf(definition as Record<string, unknown>)
      : data.workerModule
        ? await loadCodeMigrations(data.workerModule)
        : [];
    const tracks = await deserializeTracks(data.tracks, code, load);
    // Tasks run as they arrive: their SQLite work is synchronous, but each
    // then waits for its flush (see durableOnDestroy), and others run meanwhile.
    // Results finished in one turn of the event loop go back in one message.
    let outbox: ResultMessage[] = [];
    const report = (id: number, result: FleetResult) => {
      if (outbox.push({ id, result }) === 1) {
        setImmediate(() => {
          const results = outbox;
          outbox = [];
          port.postMessage({ results });
        });
      }
    };
    port.on("message", (message: { tasks: TaskMessage[] }) => {
      for (const { id, task } of message.tasks) {
        void executeTask(driver, tracks, task).then((result) => report(id, result));
      }
    });
    port.postMessage({ ready: true });
  } catch (error) {
    port.postMessage({ error: (error as Error).message });
  }
}

// A bundle imports this module too, and starts it itself with its modules.
if (!isMainThread && !(workerData as { bundled?: boolean }).bundled) {
  await serveFleetTasks((url) => import(url));
}
