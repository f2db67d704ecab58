/**
 * Plays KEDA at scale against one gRPC address, in its own process so that the generator's work
 * is not billed to the server: N ScaledObjects each poll GetMetrics + IsActive on their interval,
 * S StreamIsActive streams stay open (or churn, in soak mode). Bounded by a request cap and a
 * duration. Prints one JSON line of results.
 */
import * as grpc from "@grpc/grpc-js";
import { externalScalerClientConstructor } from "../../src/server/proto.ts";
import { fleetScaledObject } from "./fleet-process.ts";
import { percentile } from "./rounds.ts";

export interface LoadPlan {
  readonly address: string;
  readonly scaledObjects: number;
  readonly namespaces: number;
  readonly pollIntervalMs: number;
  /**
   * Poll intervals run unmeasured before the measured window, on the same clocks: KEDA polls a
   * ScaledObject for as long as it exists, so its steady state is every ScaledObject polled on its
   * own rhythm, not its first poll or two.
   */
  readonly warmUpIntervals: number;
  readonly durationMs: number;
  readonly maxRequests: number;
  readonly streams: number;
  /** Connections to spread the ScaledObjects over (KEDA's operator and metrics server hold a few). */
  readonly connections: number;
  /** Soak mode: every second, close and reopen this fraction of the streams. */
  readonly streamChurnPerSecond: number;
  /** Return every measured latency too, so that rounds can be pooled before percentiles are taken. */
  readonly keepLatencies?: boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly polls: number;
  readonly errors: Record<string, number>;
  /** The first message seen per error code, to tell an overload from a configuration problem. */
  readonly errorExamples: Record<string, string>;
  readonly latencyMs: { p50: number; p99: number; max: number };
  /** Every measured call's latency, in the order sent (with `keepLatencies`). */
  readonly latenciesMs?: number[];
  /** When each of those calls was sent, in ms since the epoch (with `keepLatencies`). */
  readonly startsMs?: number[];
  readonly throughputPerSecond: number;
  readonly elapsedMs: number;
  /** The measured window on the wall clock (ms since the epoch), comparable with the servers' clocks. */
  readonly window: { readonly startMs: number; readonly endMs: number };
  readonly streamsOpened: number;
  readonly streamMessages: number;
}

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function refFor(index: number, plan: LoadPlan) {
  return fleetScaledObject(index, plan.namespaces, plan.address);
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const Constructor = externalScalerClientConstructor();
  const clients: Client[] = Array.from(
    { length: plan.connections },
    // A local subchannel pool gives each client its own HTTP/2 connection.
    () =>
      new Constructor(plan.address, grpc.credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      }) as Client,
  );
  // One unmeasured poll per ScaledObject first: KEDA's steady state has warm caches and parsed
  // specs; the cold first read of each namespace is an upstream round trip, not the scaler's cost.
  await Promise.all(
    Array.from(
      { length: plan.scaledObjects },
      (_, index) =>
        new Promise<void>((resolve) => {
          const client = clients[index % clients.length]!;
          (client.IsActive as (r: unknown, o: grpc.CallOptions, cb: () => void) => void).call(
            client,
            refFor(index, plan),
            { deadline: Date.now() + 10_000 },
            () => resolve(),
          );
        }),
    ),
  );
  const latencies = new Float64Array(plan.maxRequests);
  const starts = new Float64Array(plan.maxRequests);
  const errors: Record<string, number> = {};
  const errorExamples: Record<string, string> = {};
  let requests = 0;
  let polls = 0;
  let streamsOpened = 0;
  let streamMessages = 0;
  const pollsFrom = performance.now();
  // The measured window opens after the warm-up intervals: whoever runs the load counts the
  // scaler's upstream requests from then on, against the polls that are counted.
  const started = pollsFrom + plan.warmUpIntervals * plan.pollIntervalMs;
  const deadline = started + plan.durationMs;
  const measuring = () => performance.now() >= started;
  const opening = setTimeout(() => process.send?.("measuring"), started - performance.now());

  const unary = (client: Client, method: string, request: unknown) =>
    new Promise<void>((resolve) => {
      const measured = measuring();
      if (measured && requests >= plan.maxRequests) return resolve();
      const slot = measured ? requests++ : -1;
      const t0 = performance.now();
      (
        client[method] as (
          r: unknown,
          m: grpc.Metadata,
          o: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null) => void,
        ) => void
      ).call(client, request, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (error) => {
        if (slot < 0) return resolve();
        latencies[slot] = performance.now() - t0;
        starts[slot] = performance.timeOrigin + t0;
        if (error) {
          const code = grpc.status[error.code] ?? String(error.code);
          errors[code] = (errors[code] ?? 0) + 1;
          errorExamples[code] ??= String(error.details ?? "").slice(0, 300);
        }
        resolve();
      });
    });

  const openStream = (index: number): grpc.ClientReadableStream<unknown> => {
    const client = clients[index % clients.length]!;
    const stream = (client.StreamIsActive as (r: unknown) => grpc.ClientReadableStream<unknown>).call(
      client,
      refFor(index, plan),
    );
    streamsOpened++;
    stream.on("data", () => {
      if (measuring()) streamMessages++;
    });
    stream.on("error", () => {});
    return stream;
  };
  const streams = Array.from({ length: plan.streams }, (_, i) => openStream(i));
  const churn =
    plan.streamChurnPerSecond > 0
      ? setInterval(() => {
          const count = Math.max(1, Math.round(streams.length * plan.streamChurnPerSecond));
          for (let k = 0; k < count; k++) {
            const i = Math.floor(Math.random() * streams.length);
            streams[i]!.cancel();
            streams[i] = openStream(i);
          }
        }, 1000)
      : undefined;

  const pollers = Array.from({ length: plan.scaledObjects }, async (_, index) => {
    const client = clients[index % clients.length]!;
    const ref = refFor(index, plan);
    // KEDA's polls of different ScaledObjects are not aligned: start at a random phase.
    let next = pollsFrom + Math.random() * plan.pollIntervalMs;
    for (;;) {
      // A poller whose next poll falls after the deadline ends now rather than sleeping until the
      // deadline: at an 8 s interval the run would otherwise idle, and all 4,000 pollers waking
      // in the same turn at the deadline stalled the calls still in flight, for either server.
      if (next >= deadline) return;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (performance.now() >= deadline || requests >= plan.maxRequests) return;
      if (measuring()) polls++;
      await unary(client, "GetMetrics", { scaledObjectRef: ref, metricName: "llm-desired-replicas" });
      await unary(client, "IsActive", ref);
      next += plan.pollIntervalMs;
    }
  });
  await Promise.all(pollers);
  clearTimeout(opening);
  // The window is the planned one, or longer when the last calls answered after it closed (the
  // pollers end at their last poll before it), or shorter when the request cap ended it.
  const endedAt = requests >= plan.maxRequests ? performance.now() : Math.max(performance.now(), deadline);
  const elapsedMs = endedAt - started;
  if (churn) clearInterval(churn);
  for (const stream of streams) stream.cancel();
  for (const client of clients) client.close();

  const sorted = latencies.slice(0, requests).sort();
  return {
    requests,
    polls,
    errors,
    errorExamples,
    latencyMs: {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? 0,
    },
    throughputPerSecond: (requests / elapsedMs) * 1000,
    elapsedMs,
    window: {
      startMs: performance.timeOrigin + started,
      endMs: performance.timeOrigin + started + elapsedMs,
    },
    streamsOpened,
    streamMessages,
    ...(plan.keepLatencies
      ? {
          latenciesMs: Array.from(latencies.subarray(0, requests)),
          startsMs: Array.from(starts.subarray(0, requests)),
        }
      : {}),
  };
}

if (process.argv[2]) {
  const plan = JSON.parse(process.argv[2]) as LoadPlan;
  runLoad(plan).then(
    (result) => {
      // Exit once the line is written: stdout to a pipe is asynchronous, and exiting at once cut
      // a result with every latency in it short.
      process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
