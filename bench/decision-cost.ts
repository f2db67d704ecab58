/**
 * npm run bench:decisions [-- --scaled-objects 4000 --namespaces 20 --interval-ms 8000 --rounds 4
 *                           --seconds 40 --json]
 *
 * What deciding costs per poll, apart from gRPC. The server's decision book and signal source,
 * compiled as the image runs them, read a real Prometheus (the fleet `npm run bench:grpc` reads,
 * in a process of its own so that its exporters' work is not counted), and KEDA's polls
 * (GetMetrics and IsActive together, every ScaledObject on its own steady clock, as the gRPC bench
 * sends them) are made as direct calls on the book. Two modes, in alternating rounds, each round a
 * fresh process (support/decision-round.ts) with the image's `node` flags and the Deployment's
 * NODE_OPTIONS:
 *
 *  - deciding: the shipped decision TTL (DECISION_TTL_SECONDS), shorter than the poll interval, so
 *    every poll is answered by a decision of its own, made ahead of it once its rhythm is known:
 *    the readings from the source's cache and the background refreshes that keep it, the poll
 *    rhythm and the plan ahead, the decision and what the book keeps of it;
 *  - reusing: a TTL longer than the run, so every poll after a ScaledObject's first is answered
 *    from the decision in hand: the lookups only. The floor.
 *
 * Reported per poll, the median over each mode's rounds (and their range): the main thread's CPU
 * time (the thread KEDA's calls share), the process's CPU time (every thread), its garbage
 * collection pauses, and the decisions made; and deciding − reusing per decision. CPU time is far
 * steadier than a latency percentile on a shared machine, so the cost per decision is the figure
 * to judge a change of the policy or the book by. With the default arguments the report is also
 * written into docs/reliability.md as a generated block; stdout carries one JSON object with --json.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { type Mode, type RoundPlan, type RoundResult, WARM_UP_POLLS } from "./support/decision-round.ts";
import { buildLikeTheImage, deploymentNodeOptions, imageNodeFlags } from "./support/deployment-runtime.ts";
import { startFleetProcess } from "./support/fleet-process.ts";
import { median } from "./support/rounds.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const ROUND_SCRIPT = fileURLToPath(new URL("./support/decision-round.ts", import.meta.url));

const DEFAULTS = {
  "scaled-objects": "4000",
  namespaces: "20",
  "interval-ms": "8000",
  /** Alternating rounds of each mode (deciding first in odd rounds, reusing first in even ones). */
  rounds: "4",
  /** Measured seconds per mode, split evenly over the rounds. */
  seconds: "40",
} as const;

const { values: args } = parseArgs({
  options: {
    "scaled-objects": { type: "string", default: DEFAULTS["scaled-objects"] },
    namespaces: { type: "string", default: DEFAULTS.namespaces },
    "interval-ms": { type: "string", default: DEFAULTS["interval-ms"] },
    rounds: { type: "string", default: DEFAULTS.rounds },
    seconds: { type: "string", default: DEFAULTS.seconds },
    json: { type: "boolean", default: false },
  },
});

function positive(name: keyof typeof DEFAULTS): number {
  const value = Number(args[name]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

/** Whether every figure-shaping argument is its default: only then is the docs' block written. */
const defaultPlan = (Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]).every(
  (name) => Number(args[name]) === Number(DEFAULTS[name]),
);

/** One round in a fresh process with the image's flags and the Deployment's NODE_OPTIONS. */
function runRound(plan: RoundPlan): Promise<RoundResult> {
  const image = imageNodeFlags(`${ROOT}Dockerfile`);
  const child = spawn(process.execPath, [...image.flags, ROUND_SCRIPT, JSON.stringify(plan)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      NODE_OPTIONS: deploymentNodeOptions(`${ROOT}deploy/base/deployment.yaml`),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.split("\n").find((text) => text.startsWith("{"));
      if (code === 0 && line) resolve(JSON.parse(line) as RoundResult);
      else reject(new Error(`a ${plan.mode} round exited with ${code}`));
    });
  });
}

/** One mode's figure per poll: the median over its rounds, and the lowest and highest. */
function spread(rounds: readonly RoundResult[], figure: (round: RoundResult) => number) {
  const values = rounds.map((round) => (figure(round) * 1000) / round.polls);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

function perPoll(rounds: readonly RoundResult[]) {
  return {
    polls: rounds.reduce((sum, round) => sum + round.polls, 0),
    decisionsPerPoll: median(rounds.map((round) => round.decisions / round.polls)),
    mainThreadMicros: spread(rounds, (round) => round.mainThreadMs),
    cpuMicros: spread(rounds, (round) => round.userMs + round.systemMs),
    systemMicros: spread(rounds, (round) => round.systemMs),
    gcPauseMicros: spread(rounds, (round) => round.gcPauseMs),
  };
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const range = (figure: { median: number; min: number; max: number }) =>
  `${fmt(figure.median)} (${fmt(figure.min)}–${fmt(figure.max)})`;

async function main(): Promise<void> {
  const rounds = Math.max(1, Math.round(positive("rounds")));
  const plan = {
    scaledObjects: positive("scaled-objects"),
    namespaces: positive("namespaces"),
    intervalMs: positive("interval-ms"),
    seconds: positive("seconds") / rounds,
    distDir: `${ROOT}dist`,
  };
  buildLikeTheImage();
  const fleet = await startFleetProcess(plan.namespaces);
  const results: RoundResult[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const order: Mode[] = round % 2 === 0 ? ["deciding", "reusing"] : ["reusing", "deciding"];
      for (const mode of order) {
        process.stderr.write(`round ${round + 1} of ${rounds}: ${mode}\n`);
        results.push(await runRound({ ...plan, mode, prometheusUrl: fleet.url }));
      }
    }
  } finally {
    await fleet.stop();
  }
  const deciding = perPoll(results.filter((round) => round.mode === "deciding"));
  const reusing = perPoll(results.filter((round) => round.mode === "reusing"));
  const perDecision = (figure: "mainThreadMicros" | "cpuMicros" | "gcPauseMicros") =>
    (deciding[figure].median - reusing[figure].median) / deciding.decisionsPerPoll;
  const report = {
    plan: { ...plan, rounds, distDir: undefined },
    deciding,
    reusing,
    ratios: {
      mainThread: deciding.mainThreadMicros.median / reusing.mainThreadMicros.median,
      cpu: deciding.cpuMicros.median / reusing.cpuMicros.median,
    },
    perDecision: {
      mainThreadMicros: perDecision("mainThreadMicros"),
      cpuMicros: perDecision("cpuMicros"),
      gcPauseMicros: perDecision("gcPauseMicros"),
    },
    rounds: results,
  };
  const row = (name: string, figures: ReturnType<typeof perPoll>) =>
    `| ${name} | ${figures.polls} | ${fmt(figures.decisionsPerPoll, 2)} | ${range(figures.mainThreadMicros)} | ${range(figures.cpuMicros)} | ${range(figures.gcPauseMicros)} |`;
  const markdown = [
    `${plan.scaledObjects} ScaledObjects in ${plan.namespaces} namespaces (each namespace's ScaledObjects share one target and one metadata, as in \`npm run bench:grpc\`), each polled (GetMetrics + IsActive) every ${plan.intervalMs} ms; ${rounds} alternating rounds of ${fmt(plan.seconds)} s per mode, each a fresh process with the image's flags, after ${WARM_UP_POLLS} polls of warm-up. Per poll, the median over the rounds (lowest–highest):`,
    "",
    "| mode | polls measured | decisions per poll | main thread CPU µs | process CPU µs (all threads) | GC pauses µs |",
    "|---|---|---|---|---|---|",
    row("deciding (DECISION_TTL_SECONDS as shipped)", deciding),
    row("reusing (the decision in hand: the floor)", reusing),
    "",
    `deciding ÷ reusing: main thread ×${fmt(report.ratios.mainThread, 2)}, process ×${fmt(report.ratios.cpu, 2)}. One decision, the medians' difference: ${fmt(report.perDecision.mainThreadMicros)} µs of the main thread's CPU, ${fmt(report.perDecision.cpuMicros)} µs of the process's, ${fmt(report.perDecision.gcPauseMicros)} µs of GC pauses.`,
  ].join("\n");
  process.stderr.write(`\n${markdown}\n`);
  if (defaultPlan) {
    const written = writeGeneratedBlock("docs/reliability.md", "decision-cost", markdown, {
      command: "npm run bench:decisions",
      inputs: [
        "src/server",
        "src/sources",
        "src/policy",
        "src/config",
        "src/readings",
        "bench/decision-cost.ts",
        "bench/support/decision-round.ts",
        "bench/support/fleet.ts",
        "bench/support/fleet-process.ts",
        "bench/support/deployment-runtime.ts",
        "test/support/prometheus.ts",
        "deploy/base/deployment.yaml",
        "Dockerfile",
      ],
    });
    process.stderr.write(`docs/reliability.md: decision-cost ${written ? "updated" : "already current"}\n`);
  } else process.stderr.write("arguments other than the defaults: the docs' block is left as it is\n");
  if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
