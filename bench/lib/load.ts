/** Runs HTTP load from a child process (see load-child.ts). */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LoadPlan, LoadResult } from "./load-plan.js";

export interface LoadGenerator {
  run(plan: LoadPlan): Promise<LoadResult>;
  close(): void;
}

export async function startLoadGenerator(): Promise<LoadGenerator> {
  const child: ChildProcess = fork(fileURLToPath(new URL("./load-child.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const waiting = new Map<number, { resolve(r: LoadResult): void; reject(e: Error): void }>();
  let nextId = 1;
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`load generator exited (${code})`)));
    child.on("message", (message: any) => {
      if (message?.ready) {
        resolve();
        return;
      }
      const entry = waiting.get(message.id);
      if (!entry) return;
      waiting.delete(message.id);
      if (message.error) entry.reject(new Error(message.error));
      else entry.resolve(message.result as LoadResult);
    });
  });
  child.on("exit", () => {
    for (const entry of waiting.values()) entry.reject(new Error("load generator exited"));
    waiting.clear();
  });
  return {
    run(plan) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, plan });
      });
    },
    close() {
      child.kill();
    },
  };
}
