/**
 * npm run bench:grpc [-- --scaled-objects 2000 --interval-ms 2000 --seconds 15 --rounds 3 --streams 500
 *                      --soak 0 --json --node-flags=--some-v8-flag --noop-ballast 400000
 *                      --generator-node-flags="" --calibrate --stand-in-work-us 90
 *                      --scaler-env KEY=VALUE]
 *
 * With --json, stdout carries exactly one JSON object (`plan`, what ran: the load, the rounds, the
 * flags, `scalerEnv` and `standInWorkUs`; `scaler` and `noop`, each {requests, errors,
 * rps, p50Ms, p99Ms, maxMs, rssMiB, cpuMs}; `ratios` {p50, p99, rps, rss, cpu}; `rounds`, each
 * round's own p50 and p99 and what its calls at or above its p99 were in flight through;
 * `upstreamRequestsPerPoll`; `gc` {scaler, noop, generator}, each server's collections in its
 * measured rounds and the load generator's own while measuring each, or null when a process left
 * no record) and the human-readable report goes to stderr.
 *
 * The scaler under KEDA-like load, next to a no-op gRPC server on the same proto, same machine,
 * same run: the scaler's cost is reported as ratios to that floor, not as noisy absolutes. The two
 * are measured in alternating rounds, a fresh process each, and each server's percentiles are taken
 * over its rounds' requests together (support/rounds.ts says why). The scaler is the shipped build
 * (compiled first, started as the image starts it).
 * The scaler reads a real Prometheus (the Debian package, as in the tests) scraping vLLM, DCGM and
 * kube-state-metrics exporters for every namespace, so "upstream requests per poll" is what its
 * shared cache really achieves. Everything listens on 127.0.0.1; the load is capped in requests
 * and seconds. The results are also written into docs/reliability.md as generated blocks (load, and
 * soak when run), stamped with a hash of the code they measured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import type { Groups } from "../src/config/resolve.ts";
import { serviceConfigGroups } from "../src/config/service-config.ts";
import { scalerSpecGroups } from "../src/config/spec.ts";
import { buildLikeTheImage, deploymentNodeOptions, imageNodeFlags } from "./support/deployment-runtime.ts";
import { startFleet } from "./support/fleet.ts";
import {
  type GcEvent,
  type GcSummary,
  readGcEvents,
  summariseGc,
  type Window,
} from "./support/gc-summary.ts";
import type { LoadPlan, LoadResult } from "./support/load-generator.ts";
import { sumSeries } from "./support/prometheus-text.ts";
import { geometricMean, median, poolRounds, roundOrder, type Server } from "./support/rounds.ts";
import { type SlowCalls, slowCalls } from "./support/slow-calls.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const GC_RECORDER = fileURLToPath(new URL("./support/gc-recorder.mjs", import.meta.url));

const { values: args } = parseArgs({
  options: {
    "scaled-objects": { type: "string", default: "1000" },
    namespaces: { type: "string", default: "20" },
    /** Unset: 2 s, or longer above 1,000 ScaledObjects so that KEDA's polls stay at 500 a second. */
    "interval-ms": { type: "string" },
    /** Measured seconds per server, split evenly over the rounds. */
    seconds: { type: "string", default: "20" },
    /**
     * Alternating rounds, a fresh process of each server per round (support/rounds.ts says why);
     * an even number, so that each server goes first as often as the other.
     */
    rounds: { type: "string", default: "4" },
    /**
     * Poll intervals run unmeasured first, on the same clocks (KEDA's steady state). Unset: four,
     * and at least WARM_UP_MS of them.
     */
    "warm-up-intervals": { type: "string" },
    streams: { type: "string", default: "200" },
    connections: { type: "string", default: "8" },
    "max-requests": { type: "string", default: "200000" },
    soak: { type: "string", default: "0" },
    json: { type: "boolean", default: false },
    /** Write a V8 CPU profile of the scaler (and of the no-op, for comparison) into this folder. */
    "cpu-prof": { type: "string" },
    /**
     * Diagnostics: extra `node` flags for both servers, after the image's (V8 takes the last of
     * a pair, so --allocation-site-pretenuring measures without the shipped flag), and small
     * objects the no-op keeps alive, to compare the scaler with a floor whose heap is as large as
     * a service's.
     */
    "node-flags": { type: "string", default: "" },
    "noop-ballast": { type: "string", default: "0" },
    /**
     * Diagnostics: the load generator's `node` flags in place of GENERATOR_FLAGS (an empty string
     * runs it with Node's default flags, as before 2026-12-01; the rest of the bench stays as it is).
     */
    "generator-node-flags": { type: "string" },
    /**
     * Diagnostics: a setting of the scaler's, KEY=VALUE, repeatable (`--scaler-env
     * DECISION_TTL_SECONDS=86400` makes one decision per ScaledObject and answers every later poll
     * from it: what the scaler costs when its decisions cost nothing).
     */
    "scaler-env": { type: "string", multiple: true, default: [] },
    /**
     * Calibration: the no-op also in the scaler's place (an A/A run). What its ratios read is the
     * ruler's own spread on this machine, the least a ratio must exceed to say anything.
     */
    calibrate: { type: "boolean", default: false },
    /**
     * Diagnostics, with --calibrate: the no-op in the scaler's place holds its event loop this
     * many µs (a spin) in each GetMetrics and IsActive before it answers. What the ruler reads
     * for a server whose only difference from the floor is more CPU per call, the amount read
     * from the report's CPU ratio: on a contended machine the spin's N µs of wall time are at
     * most N of CPU.
     */
    "stand-in-work-us": { type: "string", default: "0" },
    /**
     * Diagnostics, with --stand-in-work-us: the stand-in spends its N µs a call on a worker
     * thread instead (the calls' work handed over every 10 ms), its event loop as free as the
     * floor's: what the same CPU costs when it is not on the loop that answers.
     */
    "stand-in-off-loop": { type: "boolean", default: false },
    /**
     * Diagnostics: the scaler's /metrics read every this many ms during its measured windows, as
     * Prometheus reads it (the no-op has none): what a scrape costs KEDA's calls.
     */
    "scrape-ms": { type: "string", default: "0" },
  },
});

/** A flags option, one flag per word. */
const words = (text: string) => text.split(/\s+/).filter((word) => word !== "");

/** `--node-flags`. */
const NODE_FLAGS = words(args["node-flags"] ?? "");

/**
 * The load generator's own `node` flags: it is the instrument, and its pauses are added to every
 * call in flight, whichever server is measured. On Node 24 a finished HTTP/2 client stream
 * outlives the young generation's collections (whoever drives it: grpc-js or a bare `node:http2`
 * client) and only a full collection frees it. Under Node's defaults, at 1,000 calls a second,
 * each scavenge copied 12–15 MB and stopped the generator for 20–30 ms, ~17 times in 20 s, and
 * those stops set both servers' p99. A 1 MB semi-space copies the same bytes in scavenges of ~1–2
 * ms, ~50 a second (5–6 % of the time against ~2 %, but each stop now shorter than the no-op's
 * p99); the full collections that then free the streams came every 3–4 s at 9–20 ms, and a 2 GB
 * initial old space puts them off past a round's end (the generator alone against the no-op at
 * 4,000 ScaledObjects, 40 s: none). The servers keep the image's flags.
 */
const GENERATOR_FLAGS = ["--max-semi-space-size=1", "--initial-old-space-size=2048"];

/** `--generator-node-flags`, or the generator's own. */
const GENERATOR_NODE_FLAGS =
  args["generator-node-flags"] === undefined ? GENERATOR_FLAGS : words(args["generator-node-flags"]);

/** The generator's flags as the report names them. */
const GENERATOR_FLAGS_TEXT = GENERATOR_NODE_FLAGS.join(" ") || "Node's default flags";

/** The settings the bench itself gives the scaler: where it listens, what it logs and reads. */
function benchSettings(prometheusUrl: string): Record<string, string> {
  return {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    // The Deployment's level (its ConfigMap): decision changes are logged, as in a cluster, and
    // the "serving" line gives the bench the ports.
    LOG_LEVEL: "info",
    PROMETHEUS_URL: prometheusUrl,
  };
}

/** Their names, which `--scaler-env` may not override. */
const BENCH_SETTINGS = new Set(Object.keys(benchSettings("")));

/** Every environment variable the scaler reads as a setting (docs/configuration.md lists them). */
const SCALER_SETTING_NAMES = new Set(
  ([serviceConfigGroups, scalerSpecGroups] as Groups[]).flatMap((groups) =>
    Object.values(groups).flatMap((settings) => Object.values(settings).map((setting) => setting.env)),
  ),
);

/**
 * `--scaler-env`, each KEY=VALUE checked: a misspelt name would be ignored by the scaler, and the
 * run would pass for a measurement of a setting it never had. A value the scaler cannot use stops
 * it at start, and so the bench.
 */
function scalerSettings(pairs: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    const key = at < 0 ? "" : pair.slice(0, at);
    if (!SCALER_SETTING_NAMES.has(key))
      throw new Error(
        `--scaler-env takes KEY=VALUE, KEY one of the scaler's settings (docs/configuration.md), got ${JSON.stringify(pair)}`,
      );
    if (BENCH_SETTINGS.has(key)) throw new Error(`--scaler-env ${key}: the bench sets ${key} itself`);
    settings[key] = pair.slice(at + 1);
  }
  return settings;
}

/** `--scaler-env`. */
const SCALER_SETTINGS = scalerSettings(args["scaler-env"]);

/** `--stand-in-work-us`. */
const STAND_IN_WORK_US = positive("stand-in-work-us");
/** `--scrape-ms`. */
const SCRAPE_MS = positive("scrape-ms");

// Refused before anything starts: each of these would otherwise run for minutes and measure
// something other than what it says.
if (args.calibrate && Object.keys(SCALER_SETTINGS).length > 0)
  throw new Error("--scaler-env changes the scaler, and --calibrate runs no scaler: give one or the other");
if (STAND_IN_WORK_US > 0 && !args.calibrate)
  throw new Error("--stand-in-work-us gives the no-op in the scaler's place work: it needs --calibrate");
if (args["stand-in-off-loop"] && STAND_IN_WORK_US === 0)
  throw new Error("--stand-in-off-loop moves the stand-in's work off its loop: it needs --stand-in-work-us");

function positive(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} must be a non-negative number, got ${args[name]}`);
  return value;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kib / 1024;
}

/**
 * CPU time the process has used, in milliseconds (user + system, from /proc; Linux's clock ticks
 * are 10 ms). Unlike latency, it does not depend on what else the shared machine runs.
 */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The default poll interval: 2 s for up to 1,000 ScaledObjects, then as long as keeps the fleet
 * at 500 polls (1,000 calls) a second. Past that, a 2-core machine measures its load generator,
 * not the servers (the no-op misses deadlines too); KEDA's own default interval is 30 s.
 */
function defaultInterval(): number {
  return Math.max(2000, (positive("scaled-objects") / 500) * 1000);
}

/**
 * The shortest warm-up by default. A young process is not yet in its steady state: with the
 * window opening after 8 s (four 2 s intervals) the no-op's own p99 read 5.9–14.3 ms a round at
 * the default load, against 2.9–6.3 ms after 24 s (one run each); at 4,000 ScaledObjects, whose
 * four intervals take 32 s, it read ~3.5 ms. What settles in those seconds was not measured (V8
 * compiling the hot code on background threads, on the same two cores, most likely); it was the
 * same for both servers, and it hid the scaler's own full collections behind it.
 */
const WARM_UP_MS = 20_000;

/** `--warm-up-intervals`, or four intervals and at least WARM_UP_MS. */
function warmUpIntervals(pollIntervalMs: number): number {
  if (args["warm-up-intervals"] !== undefined) return positive("warm-up-intervals");
  return Math.max(4, Math.ceil(WARM_UP_MS / pollIntervalMs));
}

/** Node's own profiler flags when --cpu-prof is given: the profile is written when the server exits. */
function profilerFlags(): string[] {
  const dir = args["cpu-prof"];
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

interface Started {
  readonly child: ChildProcess;
  readonly address: string;
  readonly httpPort?: number;
  /** Where its GC recorder writes the collections as it exits. */
  readonly gcFile: string;
  /** Where the recorder of the load generator that measures it writes the generator's own. */
  readonly generatorGcFile: string;
}

/**
 * The image's `node` flags and script, from the Dockerfile's ENTRYPOINT: both servers start with
 * these flags (the V8 flags NODE_OPTIONS refuses are given there), the scaler with the script.
 */
const IMAGE = imageNodeFlags(`${ROOT}Dockerfile`);

/**
 * The scaler as its image runs it: compiled by `npm run build` and started with the Dockerfile's
 * ENTRYPOINT and `serve`, not through tsx's loader (whose transform wraps every named function
 * expression in a naming helper that runs on every call).
 */
function buildScaler(): string[] {
  buildLikeTheImage();
  return [IMAGE.script, "serve"];
}

/**
 * The no-op server is a bench file, never built: Node runs it with its own type stripping, so
 * neither server goes through tsx's loader.
 */
const NOOP_COMMAND = ["bench/support/noop-server.ts"];

/**
 * Starts a server under the given NODE_OPTIONS, with the GC recorder loaded into it: the
 * collections it made are read back after it stops.
 */
function startServer(server: {
  readonly name: string;
  readonly command: readonly string[];
  readonly nodeOptions: string;
  readonly env: Record<string, string>;
  /** Where the GC recorder's file goes (a folder the run removes). */
  readonly gcDir: string;
}): Promise<Started> {
  const { command, nodeOptions, env } = server;
  const profile = profilerFlags();
  const script = command.find((part) => /\.(ts|js)$/.test(part)) ?? command.join(" ");
  const gcFile = join(server.gcDir, `${server.name}.json`);
  const generatorGcFile = join(server.gcDir, `${server.name}.generator.json`);
  const child = spawn(process.execPath, [...profile, ...IMAGE.flags, ...NODE_FLAGS, ...command], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      ...env,
      NODE_OPTIONS: `${nodeOptions} --import="${GC_RECORDER}"`,
      GC_RECORD_FILE: gcFile,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    let buffered = "";
    let serving = false;
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s`)), 30_000);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      // Once serving, the log is only drained, so the server never blocks on a full pipe. (It
      // was kept and searched again with every chunk: the scaler logs each ScaledObject's first
      // decision, 0.3–0.7 MB a process at the default load, and this process, which serves the
      // fleet's exporters to Prometheus, rescanned it in the scaler's rounds alone.)
      if (serving) return;
      buffered += chunk;
      const match = /"grpcPort":(\d+)/.exec(buffered);
      if (match) {
        serving = true;
        clearTimeout(timer);
        const http = /"httpPort":(\d+)/.exec(buffered);
        resolve({
          child,
          address: `127.0.0.1:${match[1]}`,
          httpPort: http ? Number(http[1]) : undefined,
          gcFile,
          generatorGcFile,
        });
        buffered = "";
      }
    });
    child.on("exit", (code) => reject(new Error(`${script} exited with ${code} before serving`)));
  });
}

/**
 * Runs the load, with the GC recorder writing the generator's own collections to `gcFile`;
 * `onMeasuring` is called when the warm-up is over and the measured window opens.
 */
function runGenerator(
  plan: LoadPlan,
  gcFile: string,
  onMeasuring: () => void = () => {},
): Promise<LoadResult> {
  const child = spawn(
    process.execPath,
    [
      ...GENERATOR_NODE_FLAGS,
      `--import=${GC_RECORDER}`,
      "--import=tsx",
      "bench/support/load-generator.ts",
      JSON.stringify(plan),
    ],
    {
      cwd: ROOT,
      // Only what it needs: a NODE_OPTIONS in the caller's shell must not change the instrument.
      env: { PATH: process.env.PATH ?? "", GC_RECORD_FILE: gcFile },
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    },
  );
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.on("message", (message) => {
    if (message === "measuring") onMeasuring();
  });
  let out = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  // "close", not "exit": a result with every latency is larger than a pipe's buffer, and "exit"
  // can come before the last of it has been read.
  return new Promise((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch (error) {
        reject(
          new Error(`the load generator's result is not JSON (${out.length} characters)`, { cause: error }),
        );
      }
    }),
  );
}

function stop(server: Started): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** The report's lines: stdout, unless --json keeps stdout for the one JSON object. */
const log = (line: string) => (args.json ? console.error(line) : console.log(line));

/**
 * Measures one server under the plan. `countQueries` reads the upstream's own count of the
 * queries it answered; it is read when the measured window opens and when it closes, and never
 * touches the server: a scrape of the scaler's /metrics at the window's start blocked it for tens
 * of milliseconds inside the measured window, a cost the no-op was never asked to pay.
 */
async function measure(label: string, server: Started, plan: LoadPlan, countQueries: () => Promise<number>) {
  const pid = server.child.pid!;
  const rssBefore = rssMiB(pid);
  let queriesAtStart: Promise<number> | undefined;
  let cpuAtStart = Number.NaN;
  const scrapes = scrapesOf(server.httpPort);
  const result = await runGenerator({ ...plan, address: server.address }, server.generatorGcFile, () => {
    scrapes.start();
    // In an IPC handler: a server that died meanwhile must fail the run below, not crash it here.
    try {
      cpuAtStart = cpuMs(pid);
    } catch {}
    queriesAtStart = countQueries();
    queriesAtStart.catch(() => {});
  });
  const scrapeMs = await scrapes.stop();
  if (Number.isNaN(cpuAtStart)) throw new Error(`${label} was gone when the measured window opened`);
  const cpu = cpuMs(pid) - cpuAtStart;
  const queriesAtEnd = await countQueries();
  const rssAfter = rssMiB(pid);
  return {
    label,
    result,
    rssBefore,
    rssAfter,
    cpuMs: cpu,
    queriesInWindow: queriesAtEnd - ((await queriesAtStart) ?? queriesAtEnd),
    queriesAtEnd,
    scrapeMs,
  };
}

/** `--scrape-ms`: reads of the server's /metrics through its window, each one's duration kept. */
function scrapesOf(httpPort: number | undefined) {
  const durations: number[] = [];
  const pending: Promise<void>[] = [];
  let timer: NodeJS.Timeout | undefined;
  const scrape = async () => {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
    await response.text();
    durations.push(performance.now() - started);
  };
  return {
    start: () => {
      if (SCRAPE_MS <= 0 || httpPort === undefined) return;
      timer = setInterval(() => pending.push(scrape().catch(() => {})), SCRAPE_MS);
    },
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      return durations;
    },
  };
}

/** The instant queries Prometheus has answered, from its own /metrics (the scaler's only upstream call). */
async function prometheusQueries(prometheusUrl: string): Promise<number> {
  const text = await (await fetch(`${prometheusUrl}/metrics`)).text();
  return sumSeries(text, "prometheus_http_requests_total", 'handler="/api/v1/query"');
}

/** Reads answered by the scaler's shared cache, from its /metrics: read once, after the load. */
async function cacheHits(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return sumSeries(text, "keda_llm_scaler_source_cache_hits_total");
}

/** A process's collections in the measured window, in one line of the report. */
function describeGc(gc: GcSummary | undefined): string {
  if (!gc) return "not recorded (the process left no record: it did not exit normally)";
  return (
    `${gc.scavenges} scavenges (mean ${fmt(gc.scavengeMeanMs, 1)} ms, max ${fmt(gc.scavengeMaxMs, 1)}), ` +
    `${gc.full} full collection${gc.full === 1 ? "" : "s"} (mean ${fmt(gc.fullMeanMs, 1)} ms, max ${fmt(gc.fullMaxMs, 1)}), ` +
    `paused at least ${fmt(gc.pausedPercent, 1)} % of the window`
  );
}

/**
 * Collections inside a server's measured rounds, from the records its processes (or the load
 * generators that measured them) left; undefined when any of them left none (it did not exit
 * normally), rather than a sum that looks complete.
 */
function gcOf(
  records: readonly (readonly GcEvent[] | undefined)[],
  windows: readonly Window[],
): GcSummary | undefined {
  const events: GcEvent[] = [];
  for (const recorded of records) {
    if (!recorded) return undefined;
    events.push(...recorded);
  }
  return summariseGc(events, windows);
}

/** The collections a round's server and its load generator recorded, each read once. */
interface RoundPauses {
  /** Undefined when the process left no record. */
  readonly server: GcEvent[] | undefined;
  readonly generator: GcEvent[] | undefined;
}

/** Read once both processes of a round have exited. */
function pausesOf(instance: Started): RoundPauses {
  return { server: readGcEvents(instance.gcFile), generator: readGcEvents(instance.generatorGcFile) };
}

type Measured = Awaited<ReturnType<typeof measure>> & { readonly pauses: RoundPauses };

/** One server's rounds as one measurement (latencies pooled; the largest RSS of any round). */
function pooled(label: string, rounds: readonly Measured[]) {
  return {
    label,
    result: poolRounds(rounds.map((round) => round.result)),
    rssBefore: Math.max(...rounds.map((round) => round.rssBefore)),
    rssAfter: Math.max(...rounds.map((round) => round.rssAfter)),
    cpuMs: rounds.reduce((ms, round) => ms + round.cpuMs, 0),
    rounds,
  };
}

/**
 * A round's slowest calls by the pauses they overlapped (slow-calls.ts); null when the server or
 * its generator left no record of its collections.
 */
function slowCallsOf(round: Measured): SlowCalls | null {
  const { server, generator } = round.pauses;
  const { startsMs, latenciesMs } = round.result;
  if (!server || !generator || !startsMs || !latenciesMs) return null;
  return slowCalls({ startsMs, latenciesMs }, server, generator);
}

/**
 * Each round's own percentiles, for the report to show how far the rounds agree, and what its
 * slowest calls overlapped, to show why a round read as it did.
 */
function roundFigures(measured: Record<Server, Measured[]>) {
  const figures = (server: Server, index: number) => {
    const round = measured[server][index]!;
    return {
      p50Ms: Number(fmt(round.result.latencyMs.p50, 3)),
      p99Ms: Number(fmt(round.result.latencyMs.p99, 3)),
      slowCalls: slowCallsOf(round),
    };
  };
  return measured.scaler.map((round, index) => ({
    scaler: figures("scaler", index),
    noop: figures("noop", index),
    p99Ratio: Number(fmt(round.result.latencyMs.p99 / measured.noop[index]!.result.latencyMs.p99, 3)),
  }));
}

/** A round's slowest calls in words, for the report. */
function describeSlowCalls(slow: SlowCalls | null): string {
  if (!slow) return "not known (a process left no record of its collections)";
  return (
    `${slow.calls}: ${slow.serverFull} in its full collections, ${slow.serverScavenge} in its scavenges, ` +
    `${slow.generator} in the generator's pauses, ${slow.other} in none`
  );
}

const LABELS: Record<Server, string> = {
  scaler: !args.calibrate
    ? "keda-llm-scaler"
    : STAND_IN_WORK_US > 0
      ? `no-op gRPC server in the scaler's place, holding its loop ${STAND_IN_WORK_US} µs a call`
      : "no-op gRPC server in the scaler's place",
  noop: "no-op gRPC server",
};

/**
 * The bench and the runtime the manifests give both servers: the load, the fleet it runs against
 * and the process flags. Every block this bench writes depends on these.
 */
const BENCH_INPUTS = [
  "proto",
  "bench/grpc-load.ts",
  "bench/support",
  "test/support/prometheus.ts",
  "deploy/base/deployment.yaml",
  "Dockerfile",
];

/**
 * What a calibration's figures depend on: the no-op (its proto and loader) and the bench. Not the
 * scaler's code: the ruler's spread stays current while the scaler changes.
 */
const CALIBRATION_INPUTS = ["src/server/proto.ts", ...BENCH_INPUTS];

/** What the figures depend on: the service and its sources, and the bench. */
const RESULT_INPUTS = [
  "src/server",
  "src/sources",
  "src/policy",
  "src/config",
  "src/readings",
  ...BENCH_INPUTS,
];

/**
 * Every server this run started, and the fleet: a failed run must not leave them running to load
 * the machine under the next one.
 */
const children = new Set<ChildProcess>();
let fleetRunning: { stop: () => Promise<void> } | undefined;

async function main(): Promise<void> {
  const gcDir = mkdtempSync(join(tmpdir(), "bench-grpc-gc-"));
  try {
    await run(gcDir);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await fleetRunning?.stop();
    rmSync(gcDir, { recursive: true, force: true });
  }
}

async function run(gcDir: string): Promise<void> {
  const pollIntervalMs = args["interval-ms"] === undefined ? defaultInterval() : positive("interval-ms");
  const plan: LoadPlan = {
    address: "",
    scaledObjects: positive("scaled-objects"),
    namespaces: Math.max(1, positive("namespaces")),
    pollIntervalMs,
    warmUpIntervals: warmUpIntervals(pollIntervalMs),
    durationMs: positive("seconds") * 1000,
    maxRequests: positive("max-requests"),
    streams: positive("streams"),
    connections: Math.max(1, positive("connections")),
    streamChurnPerSecond: 0,
  };
  const rounds = Math.max(1, Math.round(positive("rounds")));
  const roundPlan: LoadPlan = { ...plan, durationMs: plan.durationMs / rounds, keepLatencies: true };
  const fleet = await startFleet(plan.namespaces);
  // Stopped by main() however the run ends, from here on.
  fleetRunning = fleet;
  // Both servers run under the image's node flags and the Deployment's heap flags (the no-op too,
  // so the floor is the same runtime's): the figures describe the process the manifests start.
  const nodeOptions = deploymentNodeOptions(`${ROOT}deploy/base/deployment.yaml`);
  const scalerEnv = { ...benchSettings(fleet.prometheus.url), ...SCALER_SETTINGS };
  const noopBallast = positive("noop-ballast");
  const standInWorkUs = STAND_IN_WORK_US;
  const diagnostics = [
    ...(NODE_FLAGS.length > 0 ? [`node flags ${NODE_FLAGS.join(" ")} on both servers`] : []),
    ...Object.entries(SCALER_SETTINGS).map(([key, value]) => `the scaler with ${key}=${value}`),
    ...(noopBallast > 0 ? [`the no-op keeping ${noopBallast} small objects alive`] : []),
    ...(args["generator-node-flags"] !== undefined
      ? [`the load generator with ${GENERATOR_FLAGS_TEXT}`]
      : []),
    ...(args.calibrate ? ["calibration: the no-op in the scaler's place too (A/A)"] : []),
    ...(standInWorkUs > 0
      ? [
          args["stand-in-off-loop"]
            ? `the no-op in the scaler's place spending ${standInWorkUs} µs a GetMetrics and IsActive on a worker thread`
            : `the no-op in the scaler's place holding its event loop ${standInWorkUs} µs in each GetMetrics and IsActive`,
        ]
      : []),
    ...(SCRAPE_MS > 0 ? [`the scaler's /metrics read every ${SCRAPE_MS} ms in its windows`] : []),
    // A profiler slows what it watches: a profiled run's figures are not the shipped ones.
    ...(args["cpu-prof"] ? [`CPU profiles written to ${args["cpu-prof"]}`] : []),
  ];
  const planLine =
    `plan: ${plan.scaledObjects} ScaledObjects in ${plan.namespaces} namespaces polling GetMetrics + IsActive every ${plan.pollIntervalMs} ms ` +
    `(${plan.warmUpIntervals} intervals unmeasured first), ` +
    `${plan.streams} open StreamIsActive streams, ${plan.connections} connections, ${plan.durationMs / 1000} s measured per server in ${rounds} alternating round${rounds === 1 ? "" : "s"} of ${fmt(roundPlan.durationMs / 1000, 1)} s (a fresh process each), cap ${plan.maxRequests} requests a round; ` +
    `both servers with the image's node flags ${IMAGE.flags.join(" ")} and the Deployment's NODE_OPTIONS=${nodeOptions} (and a GC recorder); the load generator with ${GENERATOR_FLAGS_TEXT}` +
    (diagnostics.length > 0 ? `; diagnostics: ${diagnostics.join(", ")}` : "");
  log(planLine);

  const countQueries = () => prometheusQueries(fleet.prometheus.url);
  const scalerCommand = buildScaler();
  const start = (server: Server, name: string) =>
    server === "scaler" && !args.calibrate
      ? startServer({ name, command: scalerCommand, nodeOptions, env: scalerEnv, gcDir })
      : startServer({
          name,
          command: NOOP_COMMAND,
          nodeOptions,
          env: {
            NOOP_BALLAST: String(noopBallast),
            NOOP_WORK_US: String(server === "scaler" ? standInWorkUs : 0),
            NOOP_WORK_OFF_LOOP: args["stand-in-off-loop"] ? "1" : "",
          },
          gcDir,
        });
  const measured: Record<Server, Measured[]> = { scaler: [], noop: [] };
  let cacheHitsInRounds = 0;
  let scalerQueries = 0;
  for (const [index, order] of roundOrder(rounds).entries()) {
    for (const server of order) {
      log(`round ${index + 1} of ${rounds}: ${LABELS[server]}`);
      // The fleet's own readiness queries, and the previous rounds', are not this process's.
      const queriesBefore = await countQueries();
      const instance = await start(server, `${server}-${index + 1}`);
      // Prometheus is asked for its count in both servers' rounds (the same work on the shared
      // cores in either window); only the scaler's counts are used.
      const round = await measure(LABELS[server], instance, roundPlan, countQueries);
      if (server === "scaler") {
        scalerQueries += round.queriesAtEnd - queriesBefore;
        if (instance.httpPort !== undefined) cacheHitsInRounds += await cacheHits(instance.httpPort);
      }
      await stop(instance);
      measured[server].push({ ...round, pauses: pausesOf(instance) });
    }
  }
  const ours = pooled(LABELS.scaler, measured.scaler);
  const floor = pooled(LABELS.noop, measured.noop);
  const upstream = {
    requests: measured.scaler.reduce((n, round) => n + round.queriesInWindow, 0),
    cacheHits: cacheHitsInRounds,
    wholeRun: scalerQueries,
  };
  const soakSeconds = positive("soak");
  let soak:
    | {
        samples: { atSeconds: number; rssMiB: number }[];
        result: LoadResult;
        /** The generator's own collections over the soak (it runs longer than a round). */
        generatorGc: GcSummary | undefined;
      }
    | undefined;
  if (soakSeconds > 0) {
    log(`soak: a fresh ${LABELS.scaler} for ${soakSeconds} s`);
    const scaler = await start("scaler", "scaler-soak");
    const samples: { atSeconds: number; rssMiB: number }[] = [];
    const t0 = Date.now();
    const sampler = setInterval(
      () => samples.push({ atSeconds: (Date.now() - t0) / 1000, rssMiB: rssMiB(scaler.child.pid!) }),
      5000,
    );
    const result = await runGenerator(
      {
        ...plan,
        address: scaler.address,
        durationMs: soakSeconds * 1000,
        maxRequests: Math.max(plan.maxRequests, 2_000_000),
        streamChurnPerSecond: 0.1,
      },
      scaler.generatorGcFile,
    );
    clearInterval(sampler);
    soak = { samples, result, generatorGc: gcOf([readGcEvents(scaler.generatorGcFile)], [result.window]) };
    await stop(scaler);
  }
  await fleet.stop();
  fleetRunning = undefined;
  const recorded = (server: Server, which: keyof RoundPauses) =>
    measured[server].map((round) => round.pauses[which]);
  const gc = {
    scaler: gcOf(recorded("scaler", "server"), ours.result.windows),
    noop: gcOf(recorded("noop", "server"), floor.result.windows),
    // The instrument's own pauses: each adds its length to every call in flight during it.
    generator: {
      scaler: gcOf(recorded("scaler", "generator"), ours.result.windows),
      noop: gcOf(recorded("noop", "generator"), floor.result.windows),
    },
  };

  const load: string[] = [];
  let report = load;
  const say = (line: string) => {
    log(line);
    report.push(line);
  };
  say("");
  say("| server | requests | errors | req/s | p50 ms | p99 ms | max ms | RSS before → after MiB |");
  say("|---|---|---|---|---|---|---|---|");
  for (const run of [ours, floor]) {
    const r = run.result;
    const errors =
      Object.entries(r.errors)
        .map(([code, n]) => `${code} ${n}`)
        .join(", ") || "0";
    say(
      `| ${run.label} | ${r.requests} | ${errors} | ${fmt(r.throughputPerSecond, 0)} | ${fmt(r.latencyMs.p50, 2)} | ${fmt(r.latencyMs.p99, 2)} | ${fmt(r.latencyMs.max, 1)} | ${fmt(run.rssBefore)} → ${fmt(run.rssAfter)} |`,
    );
  }
  for (const run of [ours, floor])
    for (const [code, example] of Object.entries(run.result.errorExamples))
      say(`${run.label}: first ${code}: ${example}`);
  say("");
  const perRound = roundFigures(measured);
  // The pooled p99 follows whichever round had the slowest tail; the rounds' median ratio says
  // what most rounds saw, and their geometric mean weighs every round (a round at ×2 and one at
  // ×0.5 cancel). All are printed, so that no one of them alone is taken for the verdict.
  const medianRoundRatio = median(perRound.map((round) => round.p99Ratio));
  const geometricRoundRatio = geometricMean(perRound.map((round) => round.p99Ratio));
  say(
    `each round alone, p50 / p99 ms: ${perRound
      .map(
        (round, index) =>
          `${index + 1}: scaler ${fmt(round.scaler.p50Ms, 2)} / ${fmt(round.scaler.p99Ms, 1)}, no-op ${fmt(round.noop.p50Ms, 2)} / ${fmt(round.noop.p99Ms, 1)} (p99 ×${fmt(round.p99Ratio, 2)})`,
      )
      .join("; ")}`,
  );
  say(
    `each round's calls at or above its p99, by the pauses they were in flight through: ${perRound
      .map(
        (round, index) =>
          `${index + 1}: scaler ${describeSlowCalls(round.scaler.slowCalls)}; no-op ${describeSlowCalls(round.noop.slowCalls)}`,
      )
      .join(" — ")}`,
  );
  say(
    `ratio p50 latency (scaler / no-op): ${fmt(ours.result.latencyMs.p50 / floor.result.latencyMs.p50, 2)}`,
  );
  say(
    `ratio p99 latency (scaler / no-op): ${fmt(ours.result.latencyMs.p99 / floor.result.latencyMs.p99, 2)} ` +
      `(over the pooled calls; the rounds' own ratios: median ${fmt(medianRoundRatio, 2)}, geometric mean ${fmt(geometricRoundRatio, 2)})`,
  );
  say(
    `ratio throughput (scaler / no-op): ${fmt(ours.result.throughputPerSecond / floor.result.throughputPerSecond, 2)}`,
  );
  say(`ratio RSS after load (scaler / no-op): ${fmt(ours.rssAfter / floor.rssAfter, 2)}`);
  say(
    `CPU time over the measured window: scaler ${fmt(ours.cpuMs, 0)} ms, no-op ${fmt(floor.cpuMs, 0)} ms (ratio ${fmt(ours.cpuMs / Math.max(1, floor.cpuMs), 2)})`,
  );
  if (SCRAPE_MS > 0) {
    const scrapes = ours.rounds.flatMap((round) => round.scrapeMs).sort((a, b) => a - b);
    say(
      `reads of the scaler's /metrics in its windows: ${scrapes.length}, ` +
        `median ${fmt(scrapes[Math.floor(scrapes.length / 2)] ?? Number.NaN, 1)} ms, max ${fmt(scrapes.at(-1) ?? Number.NaN, 1)} ms`,
    );
  }
  say(`garbage collection in the measured window: scaler ${describeGc(gc.scaler)}`);
  say(`garbage collection in the measured window: no-op ${describeGc(gc.noop)}`);
  say(
    `the load generator's own collections (with ${GENERATOR_FLAGS_TEXT}): ` +
      `measuring the scaler ${describeGc(gc.generator.scaler)}; measuring the no-op ${describeGc(gc.generator.noop)}`,
  );
  say(
    `upstream requests per poll (GetMetrics + IsActive pair): ${fmt(upstream.requests / Math.max(1, ours.result.polls), 3)} ` +
      `(${upstream.requests} queries answered by Prometheus for ${ours.result.polls} polls in the measured window; ${upstream.cacheHits} reads answered by the scaler's shared cache over the whole run; ` +
      `with every query its processes made before their windows too (cold first reads and warm-ups, one per round), ${upstream.wholeRun} queries, ${fmt(upstream.wholeRun / Math.max(1, ours.result.polls), 3)} per measured poll)`,
  );
  if (soak) {
    const series = soak.samples.map((s) => `${fmt(s.atSeconds, 0)}s:${fmt(s.rssMiB)}`).join(" ");
    const half = soak.samples.slice(Math.floor(soak.samples.length / 2));
    const growth = half.length > 1 ? half[half.length - 1]!.rssMiB - half[0]!.rssMiB : 0;
    report = [];
    say("");
    say(
      `soak ${soakSeconds} s: ${soak.result.requests} requests, ${soak.result.streamsOpened} streams opened (10 %/s churn), errors ${JSON.stringify(soak.result.errors)}`,
    );
    say(`soak RSS MiB: ${series}`);
    say(`soak RSS change over the second half: ${fmt(growth)} MiB`);
    say(`the load generator's own collections over the soak: ${describeGc(soak.generatorGc)}`);
    if (diagnostics.length === 0)
      writeBlock("grpc-soak", [
        `soak ${soakSeconds} s: one fresh scaler under the same load (${plan.scaledObjects} ScaledObjects every ${plan.pollIntervalMs} ms, ${plan.streams} streams), the same flags`,
        ...report,
      ]);
  }
  // A diagnostic run measures a changed runtime or floor: it never stands in for the shipped one.
  // A calibration alone has a block of its own: the spread any ratio above must be read against.
  if (diagnostics.length === 0) writeBlock("grpc-load", [planLine, ...load]);
  else if (args.calibrate && diagnostics.length === 1)
    writeBlock(
      "grpc-calibration",
      [planLine, ...load],
      CALIBRATION_INPUTS,
      "npm run bench:grpc -- --calibrate",
    );
  else log("diagnostics on: the docs' blocks are left as they are");
  if (args.json) {
    const summary = (run: typeof ours) => ({
      requests: run.result.requests,
      errors: Object.values(run.result.errors).reduce((n, count) => n + count, 0),
      rps: Number(fmt(run.result.throughputPerSecond, 1)),
      p50Ms: Number(fmt(run.result.latencyMs.p50, 3)),
      p99Ms: Number(fmt(run.result.latencyMs.p99, 3)),
      maxMs: Number(fmt(run.result.latencyMs.max, 3)),
      rssMiB: Number(fmt(run.rssAfter, 1)),
      cpuMs: run.cpuMs,
    });
    const ratio = (a: number, b: number) => Number(fmt(a / b, 3));
    console.log(
      JSON.stringify({
        plan: {
          ...plan,
          address: undefined,
          rounds,
          roundDurationMs: roundPlan.durationMs,
          imageFlags: IMAGE.flags,
          nodeOptions,
          nodeFlags: NODE_FLAGS,
          generatorNodeFlags: GENERATOR_NODE_FLAGS,
          noopBallast,
          scalerEnv: SCALER_SETTINGS,
          standInWorkUs,
        },
        scaler: summary(ours),
        noop: summary(floor),
        ratios: {
          p50: ratio(ours.result.latencyMs.p50, floor.result.latencyMs.p50),
          p99: ratio(ours.result.latencyMs.p99, floor.result.latencyMs.p99),
          p99RoundMedian: Number(fmt(medianRoundRatio, 3)),
          p99RoundGeometricMean: Number(fmt(geometricRoundRatio, 3)),
          rps: ratio(ours.result.throughputPerSecond, floor.result.throughputPerSecond),
          rss: ratio(ours.rssAfter, floor.rssAfter),
          cpu: ratio(ours.cpuMs, Math.max(1, floor.cpuMs)),
        },
        rounds: perRound,
        upstreamRequestsPerPoll: Number(fmt(upstream.requests / Math.max(1, ours.result.polls), 4)),
        upstreamRequestsPerPollWithWarmUp: Number(fmt(upstream.wholeRun / Math.max(1, ours.result.polls), 4)),
        gc: {
          scaler: gc.scaler ?? null,
          noop: gc.noop ?? null,
          generator: { scaler: gc.generator.scaler ?? null, noop: gc.generator.noop ?? null },
        },
      }),
    );
  }
}

/** The lines a run printed, as a block of docs/reliability.md (tables stay tables, the rest is a list). */
function writeBlock(
  name: string,
  lines: readonly string[],
  inputs: readonly string[] = RESULT_INPUTS,
  command = "npm run bench:grpc",
): void {
  const markdown = lines
    .filter((line) => line !== "")
    .map((line) => (line.startsWith("|") ? line : `- ${line}`))
    .join("\n")
    .replace(/^(- .*)\n\|/gm, "$1\n\n|")
    .replace(/^(\|.*)\n- /gm, "$1\n\n- ");
  const written = writeGeneratedBlock("docs/reliability.md", name, markdown, { command, inputs });
  log(`docs/reliability.md: ${name} ${written ? "updated" : "already current"}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
