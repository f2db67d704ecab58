/**
 * The same ExternalScaler proto served by handlers that answer constants at once: the floor any
 * gRPC service on this machine pays. The load benchmark reports the scaler's cost as a ratio to it.
 */
import { Worker } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import { externalScalerService, loadPackageDefinition } from "../../src/server/proto.ts";

const spec = { metricSpecs: [{ metricName: "llm-desired-replicas", targetSize: 1, targetSizeFloat: 1 }] };
const metrics = {
  metricValues: [{ metricName: "llm-desired-replicas", metricValue: 1, metricValueFloat: 1 }],
};

/**
 * `bench:grpc --noop-ballast N`: the no-op keeps N small objects alive (an object, a string and a
 * Map each), so that the scaler can be compared with a floor whose heap is as large as a
 * service's: V8's collections pause longer in a process with a larger heap.
 */
const ballastSize = Number(process.env.NOOP_BALLAST ?? "0");
(globalThis as { ballast?: unknown }).ballast = Array.from({ length: ballastSize }, (_, index) => ({
  index,
  text: `ballast-${index}`,
  lookup: new Map([[index, index]]),
}));

/**
 * `bench:grpc --calibrate --stand-in-work-us N`: the no-op in the scaler's place holds its event
 * loop for N µs in each GetMetrics and IsActive before it answers: a floor with more CPU per call
 * and nothing else of a service's. The spin runs on the wall clock, so on a contended machine it
 * uses at most N µs of CPU; the bench's CPU ratio says how much it used.
 */
const workUs = Number(process.env.NOOP_WORK_US ?? "0");

/**
 * `--stand-in-off-loop`: the same spin on a worker thread, for every call answered in the last
 * 10 ms at once. The loop that answers does no more than the floor's; the process spends the
 * same CPU beside it.
 */
const offLoop = workUs > 0 && process.env.NOOP_WORK_OFF_LOOP === "1";
let callsToWorkFor = 0;
if (offLoop) {
  const spinner = new Worker(
    `const { parentPort } = require("node:worker_threads");
     parentPort.on("message", (calls) => {
       const until = performance.now() + (calls * ${workUs}) / 1000;
       while (performance.now() < until);
     });`,
    { eval: true },
  );
  spinner.unref();
  setInterval(() => {
    if (callsToWorkFor === 0) return;
    spinner.postMessage(callsToWorkFor);
    callsToWorkFor = 0;
  }, 10).unref();
}

/** Spins for `workUs` and allocates nothing, so the work itself adds no collection. */
function work(): void {
  if (workUs <= 0) return;
  if (offLoop) {
    callsToWorkFor++;
    return;
  }
  const until = performance.now() + workUs / 1000;
  while (performance.now() < until);
}

const server = new grpc.Server({ "grpc.max_concurrent_streams": 10_000 });
server.addService(externalScalerService(loadPackageDefinition()), {
  IsActive: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
    work();
    callback(null, { result: true });
  },
  GetMetricSpec: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, spec),
  GetMetrics: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
    work();
    callback(null, metrics);
  },
  StreamIsActive: (call: grpc.ServerWritableStream<unknown, unknown>) => {
    call.write({ result: true });
    call.on("cancelled", () => call.end());
  },
  StreamMetricSpec: (call: grpc.ServerWritableStream<unknown, unknown>) => {
    call.write(spec);
    call.on("cancelled", () => call.end());
  },
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ msg: "noop serving", grpcPort: port })}\n`);
});
process.on("SIGTERM", () => server.forceShutdown());
