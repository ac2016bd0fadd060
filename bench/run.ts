/**
 * The benchmark harness: `npm run bench` runs every scenario, `-- --quick` a
 * smaller version, `-- --only <scenario>[,<scenario>]` some, `-- --tag <name>`
 * also keeps results/<name>.json, `-- --merge <file>` puts a tagged partial
 * run's scenarios into latest.*, `-- --out <dir>` writes results there
 * instead of bench/results, `-- --help` lists them all. See bench/README.md.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type BenchContext, type Scenario, temporaryDir } from "./lib/context.js";
import { machineInfo } from "./lib/machine.js";
import { mergeResults } from "./lib/merge.js";
import { type BenchResults, type Metric, renderTable, writeResults } from "./lib/report.js";
import { actions } from "./scenarios/actions.js";
import { coldWake } from "./scenarios/cold-wake.js";
import { fleetMigrate } from "./scenarios/fleet-migrate.js";
import { httpReadWrite } from "./scenarios/http.js";
import { inprocRead } from "./scenarios/inproc-read.js";
import { postgresScenario } from "./scenarios/postgres.js";
import { provision } from "./scenarios/provision.js";
import { scale } from "./scenarios/scale.js";

const SCENARIOS: Scenario[] = [
  inprocRead,
  httpReadWrite,
  fleetMigrate,
  provision,
  coldWake,
  scale,
  actions,
  postgresScenario,
];

const USAGE = `usage: npm run bench [-- options]

  (none)                  every scenario, full size; writes bench/results/latest.*
  --quick                 small sizes (about a minute)
  --only <a>[,<b>...]     some scenarios (see --list); results kept only with --tag
  --tag <name>            also keep results as <name>.json (partial runs: results/partial/)
  --merge <file>          put a tagged partial run's scenarios into latest.*
  --render                rewrite latest.md and the charts from latest.json
  --out <dir>             write result files to <dir> instead of bench/results
  --list                  the scenario names
  --help                  this text`;

/** A mistake in the command line: printed with the usage, no stack. */
class UsageError extends Error {}

/** `http-read` and `http-write` are one scenario (they share their setup). */
const ALIASES: Record<string, string> = { "http-read": "http", "http-write": "http" };

function parseOptions() {
  return parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      tag: { type: "string" },
      list: { type: "boolean", default: false },
      render: { type: "boolean", default: false },
      merge: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}

async function main(): Promise<void> {
  let values: ReturnType<typeof parseOptions>["values"];
  try {
    values = parseOptions().values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(s.name);
    return;
  }
  // --out writes the result files elsewhere (the harness's own test uses it).
  const dir = values.out
    ? resolve(values.out)
    : fileURLToPath(new URL("./results", import.meta.url));
  if (values.render) {
    // Rewrites latest.md and its charts from latest.json (after changing the report's format).
    const results = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchResults;
    for (const path of writeResults(dir, results)) console.log(`wrote ${path}`);
    return;
  }
  if (values.merge) {
    // Puts the scenarios of a tagged --only run (results/partial/<tag>.json) into latest.*.
    const latest = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchResults;
    const partial = JSON.parse(readFileSync(values.merge, "utf8")) as BenchResults;
    const merged = mergeResults(latest, partial);
    for (const path of writeResults(dir, merged)) console.log(`wrote ${path}`);
    return;
  }
  const wanted = values.only
    ? new Set(values.only.split(",").map((name) => ALIASES[name.trim()] ?? name.trim()))
    : undefined;
  if (wanted) {
    const unknown = [...wanted].filter((name) => !SCENARIOS.some((s) => s.name === name));
    if (unknown.length > 0) {
      throw new UsageError(
        `unknown scenario ${unknown.join(", ")}; choose from ${SCENARIOS.map((s) => s.name).join(", ")}`,
      );
    }
  }
  const mode = values.quick ? "quick" : "full";
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  console.log(
    `tenantbase bench (${mode}) on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, SQLite ${machine.sqlite}, commit ${machine.gitCommit}`,
  );
  const metrics: Metric[] = [];
  const skipped: BenchResults["skipped"] = [];
  for (const scenario of SCENARIOS) {
    if (wanted && !wanted.has(scenario.name)) continue;
    const reason = (await scenario.unavailable?.()) ?? null;
    if (reason) {
      console.log(`\n== ${scenario.name}: skipped (${reason})`);
      skipped.push({ scenario: scenario.name, reason });
      continue;
    }
    console.log(`\n== ${scenario.name}`);
    const temporary = temporaryDir(scenario.name);
    const started = Date.now();
    const ctx: BenchContext = {
      quick: values.quick,
      dir: temporary.dir,
      log: (message) => console.log(`   ${message}`),
    };
    try {
      const found = await scenario.run(ctx);
      metrics.push(...found);
      console.log(renderTable(found));
      for (const m of found) if (m.notes) console.log(`   - ${m.name}: ${m.notes}`);
    } finally {
      temporary.remove();
    }
    console.log(`   (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  const results: BenchResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    mode,
    only: values.only ?? null,
    machine,
    metrics,
    skipped,
  };
  console.log(`\n${renderTable(metrics)}`);
  const met = metrics.filter((m) => m.met === true).length;
  const targeted = metrics.filter((m) => m.met !== null).length;
  console.log(`\ntargets met: ${met} of ${targeted}`);
  // A partial run (--only) does not replace the latest full results unless tagged.
  if (!values.only) {
    for (const path of writeResults(dir, results, values.tag)) console.log(`wrote ${path}`);
  } else if (values.tag) {
    for (const path of writeResults(`${dir}/partial`, results, values.tag)) {
      console.log(`wrote ${path}`);
    }
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    if (error instanceof UsageError) console.error(`bench: ${error.message}\n\n${USAGE}`);
    else console.error(error);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
