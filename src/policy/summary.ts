import type { Decision } from "./decision.ts";

import { round2 } from "./format.ts";

/** One sentence: what is asked for, what set it, and the rules that changed it. */
export function summarise(decision: Decision, utilisation: number): string {
  if (!decision.available) return decision.summary;
  const winner = decision.signals.find((v) => v.signal === decision.drivingFactor);
  const what =
    decision.role === "headroom"
      ? `${decision.desiredReplicas} placeholder(s) (serving wants ${decision.servingReplicas ?? 0})`
      : `${decision.desiredReplicas} replica(s)`;
  let why: string;
  switch (decision.drivingFactor) {
    case "floor":
      why = `warm floor ${decision.floorReplicas} (${decision.floorReason ?? "floor"})`;
      break;
    case "minReplicas":
      why = "minReplicas";
      break;
    case "maxReplicas":
      why = `maxReplicas (load ${round2(decision.loadReplicas)} ÷ ${utilisation} headroom is more)`;
      break;
    case "forecast":
      why = `forecast ${round2(decision.loadReplicas)} replicas of load one lead time ahead ÷ ${utilisation} headroom`;
      break;
    case "hold":
      why = "held";
      break;
    case "none":
      why = "no demand and no floor";
      break;
    default:
      why = `${decision.drivingFactor} demand ${round2(decision.loadReplicas)} ÷ ${utilisation} headroom${winner ? ` — ${winner.note}` : ""}`;
  }
  const sent =
    decision.metricValue !== decision.desiredReplicas
      ? `; reporting ${decision.metricValue}${decision.active ? "" : " (inactive)"}`
      : decision.active
        ? ""
        : " (inactive)";
  const rules = decision.rules.length > 0 ? ` — ${decision.rules.map((r) => r.note).join("; ")}` : "";
  return `${what}: ${why}${sent}${rules}.`;
}
