/**
 * `tenantbase serve` as a real child process: resolves with its URL once it
 * listens and its banner is out, rejects (with its output) if it exits first.
 * Children still running at the end of a test file are killed by killServed().
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "tenantbase.js");

export interface Served {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

export interface ServeProcessOptions {
  /** After `serve`. */
  args?: string[];
  /** Over process.env (which TENANTBASE_ADMIN_TOKEN is cleared from unless given). */
  env?: Record<string, string>;
  /** The banner is one write: wait for this in it too (e.g. its last line's start). */
  bannerEndsWith?: string;
}

const started: ChildProcess[] = [];

export async function serveProcess(options: ServeProcessOptions = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, "serve", ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, TENANTBASE_PORT: "0", TENANTBASE_ADMIN_TOKEN: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (!match) return;
      const tail = options.bannerEndsWith;
      const bannerOut =
        tail === undefined ||
        (output.includes(tail) && output.includes("\n", output.lastIndexOf(tail)));
      if (bannerOut) resolve(match[1]!);
    };
    child.stdout!.on("data", check);
    exited.then((code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output, exited };
}

/** SIGKILLs every child serveProcess started that still runs; resolves once all have exited. */
export async function killServed(): Promise<void> {
  const children = started.splice(0);
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      return exited;
    }),
  );
}
