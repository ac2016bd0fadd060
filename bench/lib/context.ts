/** What every scenario gets from the harness, and what it gives back. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metric } from "./report.js";

export interface BenchContext {
  /** --quick: smaller sizes, shorter runs. */
  quick: boolean;
  /** A fresh temporary directory for this scenario (removed afterwards). */
  dir: string;
  log(message: string): void;
}

export interface Scenario {
  name: string;
  /** Why it cannot run here, or null when it can. */
  unavailable?(): Promise<string | null>;
  run(ctx: BenchContext): Promise<Metric[]>;
}

/** A temporary directory under os.tmpdir(), and its removal. */
export function temporaryDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tenantbase-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Lets pending I/O and timers run, and collects garbage when exposed. */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  (globalThis as { gc?: () => void }).gc?.();
}
