import type { ScalerSpec } from "../config/spec.ts";
import type { RuleFired } from "./decision.ts";
import { stepOverTolerance } from "./stability.ts";

/** What goes to KEDA, from the replica count the policy wants. */
export interface KedaAnswer {
  /** Serving replicas the policy wants, or placeholder pods for role=headroom. */
  readonly answer: number;
  /** The GetMetrics value (target 1): an integer, 0 exactly when inactive. */
  readonly metricValue: number;
  readonly active: boolean;
  /** role=headroom: what the serving side wants, which the placeholders are sized from. */
  readonly servingReplicas?: number;
  /** Set when no answer can be given: the reason for UNAVAILABLE. */
  readonly unavailable?: string;
}

export interface AnswerInput {
  /** The count after floor, clamps and delays (serving units). */
  readonly desired: number;
  /** The serving count before the serving ScaledObject's min/max (what role=headroom sizes from). */
  readonly servingDesired: number;
  /** Whether anything justifies running: floor, minReplicas, waiting or running requests, missing data, or load while already running. */
  readonly reasonToRun: boolean;
  /** The Deployment's replicas as kube-state-metrics reports them. */
  readonly current: number | undefined;
  readonly ready: number | undefined;
}

/**
 * The last stages: the role (serving, or placeholders for warm nodes), the HPA tolerance band,
 * the activation gate, and advisory mode. Each that changes the answer adds a rule.
 */
export function answerForKeda(spec: ScalerSpec, input: AnswerInput, rules: RuleFired[]): KedaAnswer {
  const serving = spec.target.role === "serving";
  let answer = input.desired;
  let servingReplicas: number | undefined;
  if (!serving) {
    // Placeholders keep spare GPU nodes up while the serving side is warm, none while it is cold.
    servingReplicas = input.servingDesired;
    const warm = input.servingDesired > 0 && input.reasonToRun;
    const servingMax = spec.headroom.servingMaxReplicas;
    const room =
      servingMax === undefined ? Number.POSITIVE_INFINITY : Math.max(0, servingMax - input.servingDesired);
    const spare = warm ? Math.min(spec.headroom.spareReplicas, room) : 0;
    answer = Math.min(spec.target.maxReplicas, Math.max(spec.target.minReplicas, spare));
    const limited =
      warm && room < spec.headroom.spareReplicas
        ? ` (the serving side can grow by ${room} more, to servingMaxReplicas ${servingMax})`
        : "";
    rules.push({
      rule: "headroom-role",
      note: warm
        ? `serving wants ${input.servingDesired}: keeping ${answer} placeholder(s)${limited} so that many spare GPU slots are already up when it grows`
        : "the serving side is cold: no placeholders, no spare GPU nodes",
    });
  }

  let metricValue = answer;
  if (serving) {
    const tolerance = stepOverTolerance(
      answer,
      input.current,
      spec.target.maxReplicas,
      spec.stability.hpaTolerance,
      spec.stability.stepOverTolerance,
    );
    if (tolerance.note) rules.push({ rule: "hpa-tolerance", note: tolerance.note });
    metricValue = tolerance.metricValue;
  }
  const active = metricValue > 0 && (serving ? input.reasonToRun : answer > 0);
  if (metricValue > 0 && !active) {
    rules.push({
      rule: "activation",
      note: `${metricValue} would be asked for, but the Deployment is at zero and nothing waits above activationBacklog ${spec.activation.activationBacklog}, nothing runs and the floor is 0: stays inactive`,
    });
    metricValue = 0;
  }

  const withServing = servingReplicas !== undefined ? { servingReplicas } : {};
  if (spec.target.mode === "active") return { answer, metricValue, active, ...withServing };
  if (spec.advisory.answer === "abstain") {
    // Beside other triggers: the HPA takes the maximum and KEDA the OR of activity, so 0 and
    // inactive leave the decision to them entirely.
    rules.push({
      rule: "advisory",
      note: `advisory mode (abstain): would ask for ${metricValue}, reports 0 and inactive so the other triggers decide`,
    });
    return { answer, metricValue: 0, active: false, ...withServing };
  }
  const currentCount = input.current ?? input.ready;
  if (!serving || currentCount === undefined)
    return {
      answer,
      metricValue: 0,
      active: false,
      ...withServing,
      unavailable: !serving
        ? "advisory mode keeps the serving Deployment's count and has no meaning for role=headroom"
        : "advisory mode answers the current replica count, and kube-state-metrics replicas are not read",
    };
  rules.push({
    rule: "advisory",
    note: `advisory mode: would ask for ${metricValue}, answers the current ${currentCount} so nothing moves`,
  });
  return { answer, metricValue: currentCount, active: currentCount > 0, ...withServing };
}
