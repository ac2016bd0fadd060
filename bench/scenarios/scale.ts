/**
 * scale: 100,000 tenants in one data directory (10,000 with --quick): how
 * long a page of the tenant list takes, and the process's RSS with 1,000
 * tenants open. Runs in a child process so the RSS is the hub's alone, and
 * from Tenantbase compiled to JavaScript (one esbuild bundle; an installed
 * package also runs compiled JavaScript, from dist/): through tsx, its loader
 * and transforms add about 55 MiB that are not the engine's.
 */
import { fork } from "node:child_process";
import { compileForNode } from "../lib/compile.js";
import type { Scenario } from "../lib/context.js";
import { metric } from "../lib/report.js";
import type { ScaleResult } from "./scale-child.js";

async function runChild(dir: string, tenants: number, open: number, log: (m: string) => void) {
  const file = await compileForNode(new URL("./scale-child.ts", import.meta.url), "scale-child");
  return new Promise<ScaleResult>((resolve, reject) => {
    const child = fork(file, [dir, String(tenants), String(open)], { execArgv: ["--expose-gc"] });
    let result: ScaleResult | undefined;
    child.on("message", (message: { log?: string; result?: ScaleResult; error?: string }) => {
      if (message.log) log(message.log);
      if (message.result) result = message.result;
      if (message.error) reject(new Error(message.error));
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (result) resolve(result);
      else reject(new Error(`scale child exited with ${code}`));
    });
  });
}

export const scale: Scenario = {
  name: "scale",
  async run(ctx) {
    const tenants = ctx.quick ? 2000 : 100_000;
    const r = await runChild(ctx.dir, tenants, 1000, ctx.log);
    ctx.log(`created ${r.tenants} tenants in ${r.createSeconds.toFixed(1)} s`);
    return [
      metric({
        scenario: "scale",
        name: `list a page of ${tenants.toLocaleString("en-US")} tenants, p99`,
        value: r.pageP99Ms,
        unit: "ms",
        target: { on: "value", op: "<=", threshold: 50 },
        notes: `hub.tenants.list({limit: 100}) over all ${r.pages} pages by cursor: first page ${r.firstPageMs.toFixed(2)} ms, p50 ${r.pageP50Ms.toFixed(2)} ms; count() ${r.countMs.toFixed(2)} ms`,
      }),
      metric({
        scenario: "scale",
        name: "RSS with 1,000 tenants open",
        value: r.rssOpenMiB,
        unit: "MiB",
        target: { on: "value", op: "<=", threshold: 300 },
        notes: `${r.open} open after a write and a read each; ${r.rssIdleMiB.toFixed(0)} MiB with none open (the ${tenants.toLocaleString("en-US")} tenants created), heap ${r.heapOpenMiB.toFixed(0)} MiB; Tenantbase compiled to JavaScript (esbuild), not through tsx`,
      }),
      metric({
        scenario: "scale",
        name: `provisioning ${tenants.toLocaleString("en-US")} tenants`,
        value: r.tenants / r.createSeconds,
        unit: "tenants/s",
        notes: `informational: the setup of this scenario, ${r.createSeconds.toFixed(1)} s`,
      }),
    ];
  },
};
