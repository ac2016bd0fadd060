import { execFile } from "node:child_process";
import { join } from "node:path";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = join(import.meta.dirname, "..", "..", "bin", "tenantbase.js");

/**
 * Runs the real `tenantbase` command in a child process. The storage
 * variables are cleared, so only the arguments pick the data.
 */
export function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, TENANTBASE_DATA: "", TENANTBASE_DATABASE_URL: "" } },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
