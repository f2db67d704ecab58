/**
 * npm run bench:memory [-- --junk 1000 --junk-kib 200 --scaled-objects 10000]
 *
 * What the scaler keeps per ScaledObject, in bytes. One in-process server (real gRPC, real
 * decision book, a scripted source so no upstream is involved) and one client:
 *   1. `--junk` ScaledObjects each sending `--junk-kib` KiB of junk metadata (refused at the door),
 *   2. `--scaled-objects` normal ScaledObjects (GetMetricSpec + GetMetrics each),
 *   3. one /metrics scrape and one /debug/decisions page at that size.
 * Heap and RSS are read after a full garbage collection (run with --expose-gc, as the npm script
 * does). Prints one JSON object.
 */
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { loadServiceConfig } from "../src/config/service-config.ts";
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
    junk: { type: "string", default: "1000" },
    "junk-kib": { type: "string", default: "200" },
    "scaled-objects": { type: "string", default: "10000" },
    concurrency: { type: "string", default: "64" },
  },
});

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc (npm run bench:memory does)");

function settledMemory(): { heapMiB: number; rssMiB: number } {
  gc!();
  gc!();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 };
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Runs `count` calls, `concurrency` at a time, counting the statuses they end with. */
async function calls(count: number, concurrency: number, call: (i: number) => Promise<unknown>) {
  const statuses: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const { code } = await statusOf(call(i));
        const name = grpc.status[code] ?? String(code);
        statuses[name] = (statuses[name] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

async function main(): Promise<void> {
  const junk = Number(args.junk);
  const junkChars = Number(args["junk-kib"]) * 1024;
  const scaledObjects = Number(args["scaled-objects"]);
  const concurrency = Number(args.concurrency);
  const env = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    // Every ScaledObject stays remembered: what is measured is the cost of remembering them.
    MAX_SCALED_OBJECTS: String(Math.max(10_000, scaledObjects)),
    GRPC_MAX_MESSAGE_BYTES: String(Math.max(262_144, junkChars + 4096)),
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
    "grpc.max_send_message_length": junkChars + 65_536,
  });
  await client.call("GetMetricSpec", ref("warm-up", ONE_PER_MESSAGE));
  const start = settledMemory();

  const junkStatuses = await calls(junk, Math.min(concurrency, 16), (i) => {
    const so = ref(`junk-${i}`, { [`junk${i}`]: "x".repeat(junkChars) }, "hostile");
    return client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }, 30_000);
  });
  const afterJunk = settledMemory();

  const normalStatuses = await calls(scaledObjects, concurrency, (i) => {
    const so = ref(`chat-${i}`, { ...ONE_PER_MESSAGE, modelName: `llama-${i % 7}` }, `tenant-${i % 50}`);
    return Promise.all([
      client.call("GetMetricSpec", so, 30_000),
      client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }, 30_000),
    ]);
  });
  const afterNormal = settledMemory();

  const base = `http://127.0.0.1:${scaler.httpPort}`;
  // CPU time as well as wall time: on a shared machine the wall clock mostly measures the others.
  const timed = async (path: string) => {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const text = await (await fetch(`${base}${path}`)).text();
    const used = process.cpuUsage(cpu);
    return { text, ms: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
  const scrape = await timed("/metrics");
  const debug = await timed("/debug/decisions");

  client.close();
  await scaler.shutdown();

  const normalGrowth = afterNormal.heapMiB - afterJunk.heapMiB;
  const result = {
    junk: {
      scaledObjects: junk,
      metadataKiB: junkChars / 1024,
      statuses: junkStatuses,
      heapGrowthMiB: round(afterJunk.heapMiB - start.heapMiB),
      rssGrowthMiB: round(afterJunk.rssMiB - start.rssMiB),
    },
    normal: {
      scaledObjects,
      statuses: normalStatuses,
      remembered: scaler.book.size,
      heapGrowthMiB: round(normalGrowth),
      rssGrowthMiB: round(afterNormal.rssMiB - afterJunk.rssMiB),
      heapBytesPerScaledObject: Math.round((normalGrowth * 2 ** 20) / Math.max(1, scaledObjects)),
      bookApproximateMiB: round(scaler.book.approximateBytes / 2 ** 20),
    },
    metrics: {
      bytes: scrape.text.length,
      series: scrape.text.split("\n").filter((l) => l && !l.startsWith("#")).length,
      scrapeMs: round(scrape.ms),
      scrapeCpuMs: round(scrape.cpuMs),
    },
    debugDecisions: { bytes: debug.text.length, ms: round(debug.ms), cpuMs: round(debug.cpuMs) },
    rssMiB: round(afterNormal.rssMiB),
  };
  console.log(JSON.stringify(result, null, 2));
  const codes = (statuses: Record<string, number>) =>
    Object.entries(statuses)
      .map(([code, n]) => `${code} ${n}`)
      .join(", ");
  writeGeneratedBlock(
    "docs/reliability.md",
    "memory",
    [
      `- ${junk} ScaledObjects with ${junkChars / 1024} KiB of junk metadata each: ${codes(junkStatuses)}; heap +${result.junk.heapGrowthMiB} MiB after GC (RSS +${result.junk.rssGrowthMiB} MiB, which includes the in-process client's buffers)`,
      `- ${scaledObjects} normal ScaledObjects (GetMetricSpec + GetMetrics each): ${codes(normalStatuses)}; ${scaler.book.size} remembered; heap +${result.normal.heapGrowthMiB} MiB after GC, **${result.normal.heapBytesPerScaledObject} bytes per ScaledObject**; the book's own estimate ${result.normal.bookApproximateMiB} MiB`,
      `- /metrics at that size: ${result.metrics.series} series, ${(result.metrics.bytes / 2 ** 20).toFixed(1)} MiB, ${result.metrics.scrapeCpuMs} ms CPU (${result.metrics.scrapeMs} ms wall)`,
      `- /debug/decisions (first page): ${(result.debugDecisions.bytes / 1024).toFixed(0)} KiB, ${result.debugDecisions.cpuMs} ms CPU`,
    ].join("\n"),
    { command: "npm run bench:memory", inputs: ["src/server", "src/config", "bench/memory.ts"] },
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
