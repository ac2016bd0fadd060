/**
 * A fleet rollout worker thread: builds the driver and the migration tracks
 * it was given, then runs the tasks the main thread sends it.
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
  // Tasks run as they arrive: their SQLite work is synchronous, but each
  // then waits for its flush (see durableOnDestroy), and others run meanwhile.
  port.on("message", (message: { id: number; task: FleetTask }) => {
    void executeTask(driver, tracks, message.task).then((result) =>
      port.postMessage({ id: message.id, result }),
    );
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
}
