/**
 * The same ExternalScaler proto served by handlers that answer constants at once: the floor any
 * gRPC service on this machine pays. The load benchmark reports the scaler's cost as a ratio to it.
 */
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

/** Spins for `workUs` and allocates nothing, so the work itself adds no collection. */
function work(): void {
  if (workUs <= 0) return;
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
