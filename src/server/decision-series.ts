import { setImmediate as yieldToCalls } from "node:timers/promises";
import { DEMAND_SIGNALS } from "../policy/demand/index.ts";
import type { KeptDecision } from "./kept-decision.ts";

const PREFIX = "keda_llm_scaler_";

/** What /metrics shows of one remembered ScaledObject: its latest decision and how often it changed. */
export interface DecisionRecord {
  readonly decision: KeptDecision;
  readonly changes: number;
}

interface Family {
  readonly name: string;
  /** Labels after namespace and scaled_object. */
  readonly extraLabels?: readonly string[];
  readonly type: "gauge" | "counter";
  readonly help: string;
  /** Label pairs after namespace/scaled_object and the value, or nothing when the series is absent. */
  readonly series: (record: DecisionRecord) => Iterable<readonly [extraLabels: string, value: number]>;
}

const one = (value: number): [string, number][] => [["", value]];

/**
 * The per-ScaledObject families, each one the deploy/grafana dashboard plots. `driving_factor`
 * carries only the factor that set the answer (value 1), not a 0 for each of the nine others:
 * the dashboard selects `== 1`, and ten series per ScaledObject made a scrape at 10,000 of them
 * 18 MB.
 */
const FAMILIES: readonly Family[] = [
  {
    name: "desired_replicas",
    type: "gauge",
    help: "Replicas the policy wants.",
    series: (r) => one(r.decision.desiredReplicas),
  },
  {
    name: "metric_value",
    type: "gauge",
    help: "Value last answered to KEDA (target 1).",
    series: (r) => one(r.decision.metricValue),
  },
  {
    name: "active",
    type: "gauge",
    help: "1 when IsActive answers true.",
    series: (r) => one(r.decision.active ? 1 : 0),
  },
  {
    name: "decision_available",
    type: "gauge",
    help: "0 while the answer is UNAVAILABLE.",
    series: (r) => one(r.decision.available ? 1 : 0),
  },
  {
    name: "warm_floor_replicas",
    type: "gauge",
    help: "Warm floor at the last decision.",
    series: (r) => one(r.decision.floorReplicas),
  },
  {
    name: "load_replicas",
    type: "gauge",
    help: "Fused load in replicas at 100 % utilisation.",
    series: (r) => one(r.decision.loadReplicas),
  },
  {
    name: "signal_demand_replicas",
    extraLabels: ["signal"],
    type: "gauge",
    help: "Per-signal demand in replicas at 100 % utilisation (absent while the signal abstains or fails).",
    series: (r) => {
      const series: [string, number][] = [];
      for (const [index, signal] of DEMAND_SIGNALS.entries()) {
        const demand = r.decision.demand[index] ?? Number.NaN;
        if (!Number.isNaN(demand)) series.push([`,signal="${signal}"`, demand]);
      }
      return series;
    },
  },
  {
    name: "driving_factor",
    extraLabels: ["factor"],
    type: "gauge",
    help: "1 for the signal, floor, clamp or hold that set the last answer (only that factor is listed).",
    series: (r) => [[`,factor="${escapeLabel(r.decision.drivingFactor)}"`, 1]],
  },
  {
    name: "decision_changes_total",
    type: "counter",
    help: "Decisions whose desired replicas or activity differed from the previous one.",
    series: (r) => one(r.changes),
  },
];

/** Every per-ScaledObject series name with its label names (for the dashboard agreement test). */
export function decisionSeriesLabels(): Map<string, string[]> {
  return new Map(
    FAMILIES.map((f) => [PREFIX + f.name, ["namespace", "scaled_object", ...(f.extraLabels ?? [])]]),
  );
}

/** Label values in the exposition format: backslash, double quote and newline escaped. */
function escapeLabel(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

/** ScaledObjects whose lines are written between two turns of the event loop. */
const RECORDS_PER_SLICE = 256;

/**
 * The per-ScaledObject series, written at scrape time straight from the decision book: no second
 * copy of every decision in a metrics registry, nothing to forget when a ScaledObject is evicted,
 * and a scrape at 10,000 ScaledObjects is string building rather than 190,000 labelled children.
 * The text comes in slices of RECORDS_PER_SLICE ScaledObjects with a turn of the event loop
 * between them: at 4,000 ScaledObjects the whole text took ~240 ms of the loop at once, and
 * every KEDA call that arrived meanwhile waited for the scrape. The list of ScaledObjects (and
 * their change counts) is taken when the scrape starts; the figures are read as each family's
 * slice is written, and the book overwrites a ScaledObject's kept decision in place, so one
 * ScaledObject's series in one scrape can come from two successive decisions, seconds apart, as
 * they would from two scrapes.
 */
export async function* decisionSeriesSlices(records: Iterable<DecisionRecord>): AsyncGenerator<string> {
  const list = [...records];
  const labels = list.map(({ decision: { scaledObject } }) => {
    return `namespace="${escapeLabel(scaledObject.namespace)}",scaled_object="${escapeLabel(scaledObject.name)}"`;
  });
  for (const family of FAMILIES) {
    const name = PREFIX + family.name;
    let text = `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n`;
    for (let start = 0; start < list.length; start += RECORDS_PER_SLICE) {
      for (let i = start; i < Math.min(start + RECORDS_PER_SLICE, list.length); i++)
        for (const [extra, value] of family.series(list[i]!))
          text += `${name}{${labels[i]}${extra}} ${formatValue(value)}\n`;
      yield text;
      text = "";
      await yieldToCalls();
    }
    if (text) yield text;
  }
}
