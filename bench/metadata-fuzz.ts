/**
 * npm run bench:fuzz [-- --maps 10000 --seed 13]
 *
 * 10,000 random scalerMetadata maps (fast-check: real keys, near misses, KEDA's own keys, junk,
 * unicode, values from empty to 200 KB) sent as GetMetricSpec + GetMetrics + IsActive through one
 * gRPC connection, as KEDA shares one for all its ScaledObjects. Every call's status is counted;
 * a normal ScaledObject is polled after each batch and must answer OK (a hostile map never stalls
 * the others). Heap and RSS are read after a full GC before and after (run with --expose-gc, as
 * the npm script does). Prints one JSON object and writes it into docs/reliability.md.
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { pino } from "pino";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { loadServiceConfig } from "../src/config/service-config.ts";
import { scalerSpecGroups } from "../src/config/spec.ts";
import { startScalerServer } from "../src/server/scaler-server.ts";
import {
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  ScriptedSource,
  statusOf,
} from "../test/support/scaler-harness.ts";

const { values: args } = parseArgs({
  options: {
    maps: { type: "string", default: "10000" },
    seed: { type: "string", default: "13" },
    batch: { type: "string", default: "50" },
  },
});

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc (npm run bench:fuzz does)");

const KNOWN_KEYS = Object.values(scalerSpecGroups).flatMap((group) =>
  Object.values(group).flatMap((setting) => (setting.key ? [setting.key] : [])),
);

const metadataKey = fc.oneof(
  fc.constantFrom(...KNOWN_KEYS),
  fc.constantFrom(...KNOWN_KEYS).map((k) => `${k}FromEnv`),
  fc.constantFrom("scalerAddress", "enableTLS", "__proto__", "constructor", "toString"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

const metadataValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "0",
      "-1",
      "1e309",
      "NaN",
      "Infinity",
      "-Infinity",
      "true",
      "0.7",
      "08:00",
      "{",
      "null",
    ),
  },
  { weight: 4, arbitrary: fc.integer().map(String) },
  { weight: 4, arbitrary: fc.double().map(String) },
  { weight: 4, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 40_000 }).map((n) => "x".repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => "y".repeat(n)) },
);

const metadata = fc.dictionary(metadataKey, metadataValue, { maxKeys: 12 });

function settledMemory() {
  gc!();
  gc!();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 };
}

const round = (n: number) => Number(n.toFixed(1));

async function main(): Promise<void> {
  const count = Number(args.maps);
  const batch = Number(args.batch);
  const env = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    // 256 KiB: the largest fuzzed map (12 values of up to 200 KB) is refused as RESOURCE_EXHAUSTED.
    GRPC_MAX_MESSAGE_BYTES: "262144",
  };
  const source = new ScriptedSource();
  source.setBacklog(3);
  const scaler = await startScalerServer({
    config: loadServiceConfig(env),
    env,
    source,
    logger: pino({ level: "silent" }),
  });
  const client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`, undefined, {
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
  const innocent = ref("innocent", ONE_PER_MESSAGE, "tenant-a");
  await client.call("GetMetrics", { scaledObjectRef: innocent, metricName: "llm-desired-replicas" });
  const before = settledMemory();

  const statuses: Record<string, number> = {};
  const innocentStatuses: Record<string, number> = {};
  let longestDetails = 0;
  const count1 = (into: Record<string, number>, code: grpc.status) => {
    const name = grpc.status[code] ?? String(code);
    into[name] = (into[name] ?? 0) + 1;
  };
  for (let start = 0; start < count; start += batch) {
    // Sampled batch by batch, so the maps themselves are not part of what is measured.
    const maps = fc.sample(metadata, {
      numRuns: Math.min(batch, count - start),
      seed: Number(args.seed) + start,
    });
    const calls = maps.flatMap((scalerMetadata, i) => {
      const so = { name: `fuzz-${start + i}`, namespace: "fuzz", scalerMetadata };
      return [
        statusOf(client.call("GetMetricSpec", so, 10_000)),
        statusOf(
          client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }, 10_000),
        ),
        statusOf(client.call("IsActive", so, 10_000)),
      ];
    });
    const innocentCall = statusOf(
      client.call("GetMetrics", { scaledObjectRef: innocent, metricName: "llm-desired-replicas" }, 10_000),
    );
    for (const result of await Promise.all(calls)) {
      count1(statuses, result.code);
      longestDetails = Math.max(longestDetails, result.details.length);
    }
    count1(innocentStatuses, (await innocentCall).code);
  }
  const after = settledMemory();
  client.close();
  await scaler.shutdown();

  const result = {
    maps: count,
    calls: count * 3,
    statuses,
    longestStatusMessage: longestDetails,
    innocentPolls: innocentStatuses,
    remembered: scaler.book.size,
    heapMiB: { before: round(before.heapMiB), after: round(after.heapMiB) },
    rssMiB: { before: round(before.rssMiB), after: round(after.rssMiB) },
  };
  console.log(JSON.stringify(result));
  writeGeneratedBlock(
    "docs/reliability.md",
    "metadata-fuzz",
    [
      `- ${count} random scalerMetadata maps (seed ${args.seed}), ${count * 3} calls on one connection: ${Object.entries(
        statuses,
      )
        .map(([code, n]) => `${code} ${n}`)
        .join(", ")}`,
      `- longest status message: ${longestDetails} characters`,
      `- an innocent ScaledObject polled after every ${batch} maps on the same connection: ${Object.entries(
        innocentStatuses,
      )
        .map(([code, n]) => `${code} ${n}`)
        .join(", ")}`,
      `- remembered ScaledObjects afterwards: ${scaler.book.size}`,
      `- heap after GC: ${result.heapMiB.before} → ${result.heapMiB.after} MiB; RSS: ${result.rssMiB.before} → ${result.rssMiB.after} MiB`,
    ].join("\n"),
    { command: "npm run bench:fuzz", inputs: ["src/server", "src/config", "bench/metadata-fuzz.ts"] },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
