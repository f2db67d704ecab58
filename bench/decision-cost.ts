/**
 * npm run bench:decisions [-- --scaled-objects 4000 --namespaces 20 --interval-ms 8000 --rounds 4
 *                           --seconds 40 --json]
 *
 * What deciding costs per poll, apart from gRPC. The server's decision book and the real signal
 * source, in this process, read a real Prometheus (the fleet `npm run bench:grpc` reads, in a
 * process of its own), and
 * KEDA's polls (GetMetrics and IsActive together, every ScaledObject on its own steady clock, as
 * the gRPC bench sends them) are made as direct calls on the book. Two modes, in alternating rounds,
 * a fresh book and source each:
 *
 *  - deciding: the shipped decision TTL (DECISION_TTL_SECONDS), shorter than the poll interval, so
 *    every poll is answered by a decision of its own (made ahead of it once its rhythm is known):
 *    the scaler at work;
 *  - reusing: a TTL longer than the run, so every poll after a ScaledObject's first is answered
 *    from the decision in hand: the same lookups and rhythm, no decision. The floor.
 *
 * Each request is parsed from JSON at every call, so that its strings are new as a decoded gRPC
 * message's are (a lookup that compares strings costs what it costs in the server). Reported per
 * poll: the process's CPU time (every thread: the query thread and the collector's helpers
 * included), the main thread's busy time (the event loop's, which KEDA's calls share), the time
 * the main thread was paused by garbage collection and the decisions made; and deciding ÷ reusing. CPU time is steadier than latency on a
 * shared machine, so the per-decision cost is the figure to compare a change of the policy or the
 * book by. Prints the human-readable report on stderr (stdout carries one JSON object with --json)
 * and writes it into docs/reliability.md as a generated block.
 */
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { loadServiceConfig } from "../src/config/service-config.ts";
import { DecisionBook, type ScaledObjectRequest } from "../src/server/decision-book.ts";
import { createSignalSource } from "../src/sources/collect.ts";
import { fleetScaledObject, startFleetProcess } from "./support/fleet-process.ts";
import { median } from "./support/rounds.ts";

const { values: args } = parseArgs({
  options: {
    "scaled-objects": { type: "string", default: "4000" },
    namespaces: { type: "string", default: "20" },
    "interval-ms": { type: "string", default: "8000" },
    /** Alternating rounds of each mode (deciding first in odd rounds, reusing first in even ones). */
    rounds: { type: "string", default: "4" },
    /** Measured seconds per mode, split evenly over the rounds. */
    seconds: { type: "string", default: "40" },
    json: { type: "boolean", default: false },
  },
});

type Mode = "deciding" | "reusing";

interface RoundResult {
  readonly mode: Mode;
  readonly polls: number;
  readonly decisions: number;
  readonly cpuMs: number;
  readonly busyMs: number;
  readonly gcPauseMs: number;
  readonly seconds: number;
}

function positive(name: keyof typeof args): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/**
 * Polls before the window: a ScaledObject's rhythm is known from its fifth poll (three gaps in a
 * row that agree, src/server/poll-rhythm.ts), so from the sixth its decisions are made ahead. The
 * window opens after that, as it does in a cluster in steady state.
 */
const WARM_UP_POLLS = 6;

/** How often the poller wakes to send the polls that came due (KEDA's loops, one per ScaledObject). */
const TICK_MS = 10;

/** The main thread's garbage-collection pauses so far, in ms (every kind). */
let gcPausedMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPausedMs += entry.duration;
}).observe({ entryTypes: ["gc"] });

async function runRound(mode: Mode, prometheusUrl: string, seconds: number): Promise<RoundResult> {
  const scaledObjects = positive("scaled-objects");
  const namespaces = positive("namespaces");
  const intervalMs = positive("interval-ms");
  const env = { PROMETHEUS_URL: prometheusUrl };
  const config = loadServiceConfig(env);
  const source = createSignalSource(config);
  let decisions = 0;
  let errors = 0;
  const book = new DecisionBook({
    source,
    env,
    clock: Date.now,
    decisionTtlMs: mode === "deciding" ? config.server.decisionTtlSeconds * 1000 : 24 * 3600_000,
    maxEntries: Math.max(config.server.maxScaledObjects, scaledObjects),
    onDecision: () => {
      decisions++;
    },
    // A decision made ahead that failed: counted, and the round is refused below.
    onError: () => {
      errors++;
    },
  });
  // Each request as JSON, parsed at every call: new strings, as a decoded gRPC message brings.
  const requests = Array.from({ length: scaledObjects }, (_, index) =>
    JSON.stringify(fleetScaledObject(index, namespaces, "keda-llm-scaler:9090")),
  );
  const poll = async (index: number): Promise<void> => {
    const request = JSON.parse(requests[index]!) as ScaledObjectRequest;
    // GetMetrics and IsActive: one lookup each, as the service makes one per call.
    await book.decisionOf(book.lookup(request), true);
    await book.decisionOf(book.lookup(JSON.parse(requests[index]!) as ScaledObjectRequest), true);
  };

  let polls = 0;
  let failures = 0;
  const startMs = Date.now();
  // The polls in the order they come due: the nth is ScaledObject n mod N, due n/N intervals in.
  const dueAtMs = (n: number) => startMs + (n / scaledObjects) * intervalMs;
  const windowOpensMs = startMs + WARM_UP_POLLS * intervalMs;
  const windowClosesMs = windowOpensMs + seconds * 1000;
  const snapshot = () => ({
    cpu: process.cpuUsage(),
    elu: performance.eventLoopUtilization(),
    gcPausedMs,
    polls,
    decisions,
  });
  let before: ReturnType<typeof snapshot> | undefined;
  let after: ReturnType<typeof snapshot> | undefined;
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      const nowMs = Date.now();
      if (!before && nowMs >= windowOpensMs) before = snapshot();
      if (nowMs >= windowClosesMs) {
        after = snapshot();
        clearInterval(ticker);
        resolve();
        return;
      }
      while (dueAtMs(polls) <= nowMs) {
        const index = polls % scaledObjects;
        polls++;
        poll(index).catch(() => failures++);
      }
    }, TICK_MS);
  });
  book.close();
  await source.close();
  if (!before || !after) throw new Error("the measured window never opened");
  if (failures + errors > 0)
    throw new Error(`${failures + errors} polls or decisions failed in a ${mode} round`);
  const cpuMicros = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
  const elu = performance.eventLoopUtilization(after.elu, before.elu);
  return {
    mode,
    polls: after.polls - before.polls,
    decisions: after.decisions - before.decisions,
    cpuMs: cpuMicros / 1000,
    busyMs: elu.active,
    gcPauseMs: after.gcPausedMs - before.gcPausedMs,
    seconds,
  };
}

/** One mode's rounds: each figure per poll, the median over the rounds. */
function perPoll(rounds: readonly RoundResult[]) {
  const of = (figure: (round: RoundResult) => number) =>
    median(rounds.map((round) => figure(round) / round.polls));
  return {
    polls: rounds.reduce((sum, round) => sum + round.polls, 0),
    decisionsPerPoll: of((round) => round.decisions),
    cpuMicros: of((round) => round.cpuMs * 1000),
    busyMicros: of((round) => round.busyMs * 1000),
    gcPauseMicros: of((round) => round.gcPauseMs * 1000),
  };
}

const fmt = (value: number, digits: number) => value.toFixed(digits);

async function main(): Promise<void> {
  const rounds = Math.max(1, Math.round(positive("rounds")));
  const secondsPerRound = positive("seconds") / rounds;
  // In a process of its own: its exporters answer Prometheus's scrapes, work this process must not count.
  const fleet = await startFleetProcess(positive("namespaces"));
  const results: RoundResult[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const order: Mode[] = round % 2 === 0 ? ["deciding", "reusing"] : ["reusing", "deciding"];
      for (const mode of order) {
        process.stderr.write(`round ${round + 1} of ${rounds}: ${mode}\n`);
        results.push(await runRound(mode, fleet.url, secondsPerRound));
      }
    }
  } finally {
    await fleet.stop();
  }
  const deciding = perPoll(results.filter((round) => round.mode === "deciding"));
  const reusing = perPoll(results.filter((round) => round.mode === "reusing"));
  const perDecision = (figure: "cpuMicros" | "busyMicros" | "gcPauseMicros") =>
    (deciding[figure] - reusing[figure]) / deciding.decisionsPerPoll;
  const report = {
    plan: {
      scaledObjects: positive("scaled-objects"),
      namespaces: positive("namespaces"),
      intervalMs: positive("interval-ms"),
      rounds,
      secondsPerRound,
    },
    deciding,
    reusing,
    ratios: {
      cpu: deciding.cpuMicros / reusing.cpuMicros,
      busy: deciding.busyMicros / reusing.busyMicros,
      gcPause: deciding.gcPauseMicros / reusing.gcPauseMicros,
    },
    perDecision: {
      cpuMicros: perDecision("cpuMicros"),
      busyMicros: perDecision("busyMicros"),
      gcPauseMicros: perDecision("gcPauseMicros"),
    },
    rounds: results,
  };
  const row = (name: string, figures: typeof deciding) =>
    `| ${name} | ${figures.polls} | ${fmt(figures.decisionsPerPoll, 2)} | ${fmt(figures.cpuMicros, 1)} | ${fmt(figures.busyMicros, 1)} | ${fmt(figures.gcPauseMicros, 1)} |`;
  const markdown = [
    `${report.plan.scaledObjects} ScaledObjects in ${report.plan.namespaces} namespaces, each polled (GetMetrics + IsActive) every ${report.plan.intervalMs} ms; ${rounds} alternating rounds of ${fmt(secondsPerRound, 1)} s per mode, after ${WARM_UP_POLLS} polls of warm-up each. Per poll, the median over the rounds:`,
    "",
    "| mode | polls measured | decisions per poll | CPU µs (all threads) | main thread busy µs | of which GC pauses µs |",
    "|---|---|---|---|---|---|",
    row("deciding (DECISION_TTL_SECONDS as shipped)", deciding),
    row("reusing (the decision in hand; the floor)", reusing),
    "",
    `deciding ÷ reusing: CPU ×${fmt(report.ratios.cpu, 2)}, main thread ×${fmt(report.ratios.busy, 2)}, GC pauses ×${fmt(report.ratios.gcPause, 2)}; one decision costs ${fmt(report.perDecision.cpuMicros, 1)} µs of CPU and ${fmt(report.perDecision.busyMicros, 1)} µs of the main thread, ${fmt(report.perDecision.gcPauseMicros, 1)} µs of them in GC pauses.`,
  ].join("\n");
  process.stderr.write(`\n${markdown}\n`);
  const written = writeGeneratedBlock("docs/reliability.md", "decision-cost", markdown, {
    command: "npm run bench:decisions",
    inputs: [
      "src/server",
      "src/sources",
      "src/policy",
      "src/config",
      "src/readings",
      "bench/decision-cost.ts",
      "bench/support/fleet.ts",
      "bench/support/fleet-process.ts",
      "test/support/prometheus.ts",
    ],
  });
  process.stderr.write(`docs/reliability.md: decision-cost ${written ? "updated" : "already current"}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
