/** What the results were measured on. */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { cpus, platform, release, totalmem } from "node:os";
import BetterSqlite3 from "better-sqlite3";
import type { MachineInfo } from "./report.js";

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    // Some packages do not export package.json: read it from the resolved entry's folder.
    const entry = require.resolve(name);
    const root = entry.slice(
      0,
      entry.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}/`.length,
    );
    return (require(`${root}package.json`) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "";
  }
}

export function machineInfo(): MachineInfo {
  const db = new BetterSqlite3(":memory:");
  const sqlite = (db.prepare("select sqlite_version() as v").get() as { v: string }).v;
  db.close();
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
    platform: `${platform()} ${release()}`,
    node: process.version,
    sqlite,
    betterSqlite3: packageVersion("better-sqlite3"),
    kysely: packageVersion("kysely"),
    gitCommit: git(["rev-parse", "--short", "HEAD"]) || "unknown",
    gitDirty: git(["status", "--porcelain", "--", "src", "bench"]) !== "",
  };
}
