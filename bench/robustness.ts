/**
 * `npm run bench -- --robustness`: ours at its shipped defaults where a user's reality differs from
 * them — a capacity guess off by ×0.5 or ×2, the Service Bus front end, slices of a trace the main
 * bench never replays, a model and GPU the example's token rates do not describe, and a lead time
 * set far from the cluster's. Each row is one
 * unit: ours on one trace under one condition (the oracle is searched in the unit too, for the
 * ratio), with the trace's bench flags plus the condition's. A unit is exactly
 * `simulate --trace FILE --policy ours <trace flags> <condition flags>`, so any row can be replayed
 * with the CLI (test/sim/robustness.test.ts checks it).
 */
import { readFileSync } from "node:fs";
import { parseSimulateArgs } from "../src/sim/options.ts";
import { runTrace } from "../src/sim/run-trace.ts";
import { pct } from "./support/percent.ts";

/** A trace as the main bench runs it. */
export interface BenchTrace {
  readonly file: string;
  readonly flags: readonly string[];
}

export interface RobustnessUnit {
  /** The trace's file name, without .csv. */
  readonly trace: string;
  readonly condition: string;
  readonly file: string;
  /** The trace's bench flags with the condition's added (or, for a held-out slice, its dates swapped). */
  readonly flags: readonly string[];
}

export interface RobustnessFigures {
  readonly requests: number;
  readonly withinSlaFraction: number;
  readonly gpuHours: number;
  readonly oracleRatio: number;
  readonly worstWaitSeconds: number;
  readonly unservedRequests: number;
}

const NASA = "nasa_http_1995_requests_per_minute.csv";

/**
 * Two weeks each, on the same clock and scale as the bench's NASA run (07-06 → 07-20). The first
 * holds Hurricane Erin's outage (no data from 08-01 14:44 to 08-03 11:30 EDT); the second is clean.
 * The log starts 07-01, so the two weeks before the bench's slice (06-22 → 07-06) do not exist.
 */
const HELD_OUT_SLICES = [
  { from: "1995-08-01 00:00", until: "1995-08-15 00:00", note: " (Hurricane Erin outage inside)" },
  { from: "1995-08-15 00:00", until: "1995-08-29 00:00", note: "" },
];

/**
 * A 70B model on four GPUs per pod, while ours keeps the 8B example's token rates: what a user gets
 * who copies the example and does not set their own rates.
 */
const OTHER_MODEL = "llama-3.1-70b-tp4-a100";
const OTHER_MODEL_TRACES = [
  "azure_llm_2023_conv_1h.csv",
  "azure_llm_2023_code_1h.csv",
  "servegen_language_msmall_14d.csv",
];

/**
 * A lead time set wrong (240 s, 900 s) on the simulated cluster, whose nodes take 5–8 min and pods
 * 30–120 s: ours measures the lead from its pods and plans with that. On two of the fortnights,
 * where the forecast has yesterday and last week to look ahead from (the one-hour and one-day
 * traces have none, so a lead time changes nothing there); m-small is left out for the bench's time.
 */
const WRONG_LEAD_TIMES = [240, 900];
/** And the setting right for the example's nodes on a cluster whose GPU nodes are slower. */
const SLOW_NODES = "12-15";
const WRONG_LEAD_TRACES = [NASA, "servegen_language_mmid_14d.csv"];

function withSlice(flags: readonly string[], from: string, until: string): string[] {
  const swapped = [...flags];
  for (const [flag, value] of [
    ["--from", from],
    ["--until", until],
  ] as const) {
    const at = swapped.indexOf(flag);
    if (at < 0) throw new Error(`the NASA run has no ${flag} to swap`);
    swapped[at + 1] = value;
  }
  return swapped;
}

/** Every unit, grouped by trace in the bench's order. */
export function robustnessUnits(traces: readonly BenchTrace[]): RobustnessUnit[] {
  return traces.flatMap(({ file, flags }) => {
    const unit = (condition: string, unitFlags: readonly string[]): RobustnessUnit => ({
      trace: file.replace(/\.csv$/, ""),
      condition,
      file,
      flags: unitFlags,
    });
    return [
      unit("capacity ×0.5", [...flags, "--capacity-error", "0.5"]),
      unit("capacity ×2", [...flags, "--capacity-error", "2"]),
      unit("Service Bus front end", [...flags, "--front-end", "queue"]),
      ...(file === NASA
        ? HELD_OUT_SLICES.map(({ from, until, note }) =>
            unit(
              `held out: ${from.slice(5, 10)} → ${until.slice(5, 10)}${note}`,
              withSlice(flags, from, until),
            ),
          )
        : []),
      ...(OTHER_MODEL_TRACES.includes(file)
        ? [unit(`${OTHER_MODEL}, the 8B example's rates`, [...flags, "--model-profile", OTHER_MODEL])]
        : []),
      ...(WRONG_LEAD_TRACES.includes(file)
        ? [
            ...WRONG_LEAD_TIMES.map((seconds) =>
              unit(`leadTimeSeconds ${seconds} (the nodes take 5.5–10 min), measured`, [
                ...flags,
                "--metadata",
                `leadTimeSeconds=${seconds}`,
              ]),
            ),
            unit(`GPU nodes take ${SLOW_NODES} min (leadTimeSeconds 480), measured`, [
              ...flags,
              "--provision-minutes",
              SLOW_NODES,
            ]),
          ]
        : []),
    ];
  });
}

/** The `simulate` arguments of a unit on `traceFile`. */
export function robustnessArgs(traceFile: string, flags: readonly string[]): string[] {
  return ["--trace", traceFile, "--policy", "ours", "--no-progress", ...flags];
}

/** Ours on the trace with these flags, and the oracle's GPU-hours for the ratio. */
export function runRobustness(traceFile: string, flags: readonly string[]): RobustnessFigures {
  const options = parseSimulateArgs(robustnessArgs(traceFile, flags));
  const { result } = runTrace(options, readFileSync(traceFile, "utf8"), undefined);
  const ours = result.policies.find((p) => p.name === "ours");
  if (!ours) throw new Error(`${traceFile}: ours did not run with ${flags.join(" ")}`);
  return {
    requests: ours.requests,
    withinSlaFraction: ours.withinSlaFraction,
    gpuHours: ours.gpuHours,
    oracleRatio: ours.oracleRatio,
    worstWaitSeconds: ours.worstQueueWaitSeconds,
    unservedRequests: ours.unservedRequests,
  };
}

/** The block's table: one row per unit, in the units' order. */
export function robustnessMarkdown(
  rows: readonly { unit: RobustnessUnit; figures: RobustnessFigures }[],
  slaTarget: number,
): string {
  const header = ["trace", "condition", "within SLA", "GPU-h", "× oracle", "worst wait", "verdict"];
  const lines = rows.map(({ unit, figures: f }) =>
    [
      unit.trace,
      unit.condition,
      pct(f.withinSlaFraction) + (f.unservedRequests > 0 ? ` (${f.unservedRequests} unserved)` : ""),
      f.gpuHours.toFixed(1),
      f.oracleRatio.toFixed(2),
      `${Math.round(f.worstWaitSeconds).toLocaleString("en-US")} s`,
      f.withinSlaFraction >= slaTarget ? `≥ ${Number((slaTarget * 100).toPrecision(6))} %` : "misses the SLA",
    ].join(" | "),
  );
  return [
    `| ${header.join(" | ")} |`,
    "|---|---|---:|---:|---:|---:|---|",
    ...lines.map((l) => `| ${l} |`),
  ].join("\n");
}
