/**
 * The load generator: a child process (forked by bench/lib/load.ts) running
 * autocannon, so the server under test keeps its own event loop and core.
 * Receives LoadPlans over IPC, answers LoadResults.
 */
import autocannon from "autocannon";
import { type LoadPlan, type LoadResult, requestGenerator } from "./load-plan.js";

async function runPlan(plan: LoadPlan): Promise<LoadResult> {
  const next = requestGenerator(plan);
  const result = await autocannon({
    url: plan.url,
    connections: plan.connections,
    pipelining: 1,
    duration: plan.durationSeconds,
    // Every request is set up afresh: a new tenant and record each time.
    requests: [
      {
        setupRequest: (request) => {
          const planned = next();
          request.method = planned.method;
          request.path = planned.path;
          request.headers = planned.headers;
          if (planned.body !== undefined) request.body = planned.body;
          else delete request.body;
          return request;
        },
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.total / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyMeanMs: result.latency.mean,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

process.on("message", (message: { id: number; plan: LoadPlan }) => {
  runPlan(message.plan).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: Error) => process.send?.({ id: message.id, error: error.stack ?? String(error) }),
  );
});
process.send?.({ ready: true });
