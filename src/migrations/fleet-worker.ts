/**
 * A fleet rollout worker thread: builds the driver and the migration tracks
 * it was given, then runs tasks one at a time as the main thread sends them.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { StorageDriver, WorkerDriverConfig } from "../drivers/driver.js";
import {
  deserializeTracks,
  executeTask,
  type FleetTask,
  loadCodeMigrations,
  type SerializedTrack,
} from "./fleet.js";

interface Data {
  driver: WorkerDriverConfig;
  tracks: SerializedTrack[];
  workerModule?: string;
}

const port = parentPort!;
const data = workerData as Data;

try {
  const mod = (await import(data.driver.module)) as Record<
    string,
    new (
      options: unknown,
    ) => StorageDriver
  >;
  const DriverClass = mod[data.driver.exportName];
  if (!DriverClass)
    throw new Error(`${data.driver.module} has no export ${data.driver.exportName}`);
  const driver = new DriverClass(data.driver.options);
  const code = data.workerModule ? await loadCodeMigrations(data.workerModule) : [];
  const tracks = await deserializeTracks(data.tracks, code);
  // One task at a time: better-sqlite3 is synchronous, and one thread has one core.
  let queue = Promise.resolve();
  port.on("message", (message: { id: number; task: FleetTask }) => {
    queue = queue.then(async () => {
      const result = await executeTask(driver, tracks, message.task);
      port.postMessage({ id: message.id, result });
    });
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
}
