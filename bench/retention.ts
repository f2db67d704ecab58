/**
 * npm run bench:retention [-- --scaled-objects 4000 --seconds 64]
 *
 * What each of KEDA's polls leaves on the heap, in bytes. A decision and the policy memory it
 * writes live until the ScaledObject's next poll, seconds later, so a young-generation collection
 * copies them and the next moves them to the old generation, on the thread that answers KEDA: at
 * thousands of ScaledObjects that sets the scaler's collection pauses (docs/reliability.md). The
 * gRPC bench shows the pauses; this one shows the bytes behind them, and whose they are.
 *
 * One process per variant runs the real decision book under V8's `--trace-gc-nvp`, with the
 * image's node flags and the Deployment's heap flags. Its source hands out readings shaped like
 * a vLLM fleet's (13 per namespace), replaced every SOURCE_CACHE_TTL_MS's default as the source
 * cache replaces them; every ScaledObject is polled (GetMetrics + IsActive) once per interval,
 * spread evenly, as the gRPC bench polls. Collections are counted after five intervals: the book
 * knows a ScaledObject's clock after its fourth poll and decides ahead of the fifth. The variants:
 *   - as shipped;
 *   - each decision's memory tree kept as decide() returned it (the policy's InProcessMemoryStore,
 *     as the simulator keeps it), not copied into the server's records (in-place-memory-store.ts);
 *   - no policy memory kept (each decision starts afresh): the memory's share is the difference;
 *   - nothing decided ahead of the next poll (no plan per poll): deciding ahead's share.
 * Prints one JSON object and writes a block into docs/reliability.md.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { InProcessMemoryStore } from "../src/policy/decider.ts";
import type { Reading } from "../src/readings/reading.ts";
import type { SignalReadings } from "../src/readings/signal-table.ts";
import { DecisionBook, type ScaledObjectRequest } from "../src/server/decision-book.ts";
import type { SignalSource } from "../src/sources/signal-source.ts";
import { deploymentNodeOptions, imageNodeFlags } from "./support/deployment-runtime.ts";
import { parseGcTrace, type RetentionSummary, summariseRetention } from "./support/gc-trace.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const VARIANTS = [
  "as shipped",
  "each decision's memory tree kept",
  "no policy memory kept",
  "nothing decided ahead",
] as const;
/** Poll intervals before collections are counted: the clock is known at the fourth poll. */
const WARM_UP_INTERVALS = 5;
type Variant = (typeof VARIANTS)[number];

const { values: args } = parseArgs({
  options: {
    "scaled-objects": { type: "string", default: "4000" },
    namespaces: { type: "string", default: "20" },
    seconds: { type: "string", default: "64" },
    "interval-ms": { type: "string", default: "8000" },
    child: { type: "string" },
  },
});

function positive(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const plan = {
  scaledObjects: positive("scaled-objects"),
  namespaces: positive("namespaces"),
  seconds: positive("seconds"),
  intervalMs: positive("interval-ms"),
  /** The source cache's default refresh (SOURCE_CACHE_TTL_MS). */
  refreshMs: 5000,
  /** The default DECISION_TTL_SECONDS. */
  decisionTtlMs: 5000,
};

/** A vLLM fleet's readings for one namespace, new objects at every refresh as the cache makes them. */
function fleetReadings(namespace: number, nowMs: number): SignalReadings {
  const ok = (value: number): Reading => ({ ok: true, value, observedAtMs: nowMs });
  return {
    vllmWaiting: ok(3 + (namespace % 4)),
    vllmRunning: ok(20),
    ttftP95Seconds: ok(0.8),
    ttftRequestsPerSecond: ok(5),
    kvCacheUsage: ok(0.45),
    gpuUtilisation: ok(0.6),
    tokensPerSecondPerPod: ok(900),
    promptTokensPerSecond: ok(3000),
    generationTokensPerSecond: ok(1800),
    gpuMemoryUsage: ok(0.8),
    replicasDesired: ok(2),
    replicasReady: ok(2),
    replicasUnavailable: ok(0),
  };
}

/** The child: the book under KEDA's polls; prints the measured window and its polls as JSON. */
async function child(variant: Variant): Promise<void> {
  const byNamespace: SignalReadings[] = [];
  const refresh = () => {
    for (let n = 0; n < plan.namespaces; n++) byNamespace[n] = fleetReadings(n, Date.now());
  };
  refresh();
  const refresher = setInterval(refresh, plan.refreshMs);
  const namespaceOf = (name: string) => Number(name.slice("tenant-".length));
  const source: SignalSource = {
    read: async (spec) => byNamespace[namespaceOf(spec.scaledObject.namespace)] ?? {},
    readNowOrLater: (spec) => byNamespace[namespaceOf(spec.scaledObject.namespace)] ?? {},
  };
  const book = new DecisionBook({
    source,
    env: { PROMETHEUS_URL: "http://127.0.0.1:9090" },
    clock: Date.now,
    decisionTtlMs: plan.decisionTtlMs,
    ...(variant === "no policy memory kept"
      ? { memoryStore: { get: () => undefined, set: () => {}, delete: () => {} } }
      : variant === "each decision's memory tree kept"
        ? { memoryStore: new InProcessMemoryStore() }
        : {}),
  });
  const requests: ScaledObjectRequest[] = Array.from({ length: plan.scaledObjects }, (_, i) => ({
    name: `llm-${i}`,
    namespace: `tenant-${i % plan.namespaces}`,
    scalerMetadata: {
      scalerAddress: "keda-llm-scaler:9090",
      modelName: "llama-3-70b",
      deployment: `vllm-${i % plan.namespaces}`,
      rateWindow: "10s",
      maxReplicas: "16",
    },
  }));
  const polled = variant !== "nothing decided ahead";
  const poll = (request: ScaledObjectRequest) => {
    // GetMetrics and IsActive, each finding its ScaledObject as the service does.
    for (let call = 0; call < 2; call++) {
      const answer = book.decisionOf(book.lookup(request), polled);
      if (answer instanceof Promise) throw new Error("the scripted source answers at once");
      if (!answer.available) throw new Error(`unavailable: ${answer.unavailableReason}`);
    }
  };
  const startMs = performance.now();
  const fromMs = startMs + WARM_UP_INTERVALS * plan.intervalMs;
  const toMs = startMs + plan.seconds * 1000;
  if (toMs <= fromMs) throw new Error(`--seconds must exceed ${WARM_UP_INTERVALS} poll intervals`);
  const tickMs = 10;
  const perTick = (plan.scaledObjects * tickMs) / plan.intervalMs;
  let owed = 0;
  let next = 0;
  let pollsInWindow = 0;
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      const nowMs = performance.now();
      owed += perTick;
      for (; owed >= 1; owed--) {
        poll(requests[next++ % requests.length] as ScaledObjectRequest);
        if (nowMs >= fromMs) pollsInWindow++;
      }
      if (nowMs >= toMs) {
        clearInterval(ticker);
        resolve();
      }
    }, tickMs);
  });
  clearInterval(refresher);
  book.close();
  // A line of its own among V8's: the parent looks for it.
  console.log(JSON.stringify({ fromMs, toMs: performance.now(), pollsInWindow }));
}

interface VariantResult extends RetentionSummary {
  readonly variant: Variant;
  readonly polls: number;
}

/** One child process for `variant`, with the image's and the Deployment's node flags. */
function runVariant(variant: Variant): Promise<VariantResult> {
  const image = imageNodeFlags(`${ROOT}Dockerfile`);
  const heap = deploymentNodeOptions(`${ROOT}deploy/base/deployment.yaml`).split(/\s+/).filter(Boolean);
  const childArgs = [
    ...image.flags.filter((flag) => flag !== "--enable-source-maps"),
    ...heap,
    "--trace-gc-nvp",
    "--import",
    "tsx",
    fileURLToPath(import.meta.url),
    ...Object.entries(args).flatMap(([name, value]) =>
      name === "child" ? [] : [`--${name}`, String(value)],
    ),
    "--child",
    variant,
  ];
  return new Promise((resolve, reject) => {
    const running = spawn(process.execPath, childArgs, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    running.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    running.on("error", reject);
    running.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${variant}: the child exited with ${code}`));
      // V8 writes its trace to the same stdout: the result is the line that starts as one.
      const line = output.split("\n").findLast((text) => text.startsWith('{"fromMs"'));
      if (!line) return reject(new Error(`${variant}: the child printed no result`));
      const window = JSON.parse(line) as { fromMs: number; toMs: number; pollsInWindow: number };
      const summary = summariseRetention(parseGcTrace(output), window, window.pollsInWindow);
      resolve({ variant, polls: window.pollsInWindow, ...summary });
    });
  });
}

const bytes = (n: number) => `${Math.round(n).toLocaleString("en-US")} B`;

async function main(): Promise<void> {
  if (args.child !== undefined) {
    if (!(VARIANTS as readonly string[]).includes(args.child))
      throw new Error(`unknown variant ${args.child}`);
    return child(args.child as Variant);
  }
  const results: VariantResult[] = [];
  // One at a time: two children would share the machine's cores and each other's pauses.
  for (const variant of VARIANTS) {
    console.error(`retention: ${variant} (${plan.seconds} s)…`);
    results.push(await runVariant(variant));
  }
  console.log(JSON.stringify({ plan, results }, null, 2));
  const lines = results.map(
    (r) =>
      `| ${r.variant} | ${bytes(r.allocatedPerUnit)} | ${bytes(r.survivedPerUnit)} | ${bytes(r.promotedPerUnit)} | ${r.scavenges} × ${r.scavengeMeanMs} ms | ${r.full} × ${r.fullMeanMs} ms |`,
  );
  const markdown = [
    `${plan.scaledObjects} ScaledObjects in ${plan.namespaces} namespaces, each polled (GetMetrics + IsActive) every ${plan.intervalMs} ms; ${plan.seconds} s a variant, collections counted after the first ${(WARM_UP_INTERVALS * plan.intervalMs) / 1000} s. Bytes per poll:`,
    "",
    "| the book | allocated | alive at a scavenge (copied by it) | of those, promoted | scavenges | full collections |",
    "|---|---|---|---|---|---|",
    ...lines,
  ].join("\n");
  const written = writeGeneratedBlock("docs/reliability.md", "retention", markdown, {
    command: "npm run bench:retention",
    inputs: [
      "src/server",
      "src/policy",
      "src/config",
      "src/readings",
      "bench/retention.ts",
      "bench/support/gc-trace.ts",
      "Dockerfile",
      "deploy/base/deployment.yaml",
    ],
  });
  console.error(`docs/reliability.md: retention ${written ? "updated" : "already current"}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
