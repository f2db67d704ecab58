import { parseScalerSpec, type ScalerSpec } from "../config/spec.ts";
import { Decider } from "../policy/decider.ts";
import type { Decision } from "../policy/decision.ts";
import type { SignalReadings } from "../readings/signal-table.ts";
import {
  HPA_SYNC_PERIOD_MS,
  type KedaFallback,
  type ScalingSetup,
  type Trigger,
  type TriggerEvaluation,
} from "./autoscaler.ts";
import type { PodPhase } from "./cluster.ts";
import { DecisionChanges } from "./decision-changes.ts";
import { DEFAULT_HPA_BEHAVIOR, type HpaBehavior, type PodSample } from "./hpa.ts";
import type { FrontEnd } from "./model.ts";
import { type GpuMetric, gpuAverage, podGpuValue, type ScrapeSnapshot } from "./observe.ts";
import { LocalClock } from "./time.ts";

/** What triggers can look at: the world through the monitoring pipeline, never the model's internals. */
export interface WorldView {
  /** The readings decide() gets, with the GPU series the spec's `gpuMetric` names. */
  readings(nowMs: number, gpuMetric: GpuMetric): SignalReadings;
  /** The forecast's history readings (offset queries) as Prometheus would answer them at `nowMs`. */
  history(spec: ScalerSpec, nowMs: number): SignalReadings;
  snapshot(nowMs: number): ScrapeSnapshot | undefined;
  queueBacklog(nowMs: number): number;
  /**
   * The wall-clock instant of a simulated one: they part at no-data intervals, which the simulated
   * world skips while calendars (crons, the warm floor) follow the wall clock.
   */
  wallTime(nowMs: number): number;
  /** The serving Deployment's pods as the HPA's pod lister shows them now. */
  pods(): readonly { readonly id: number; readonly phase: PodPhase }[];
}

/** How `ours` is deployed: its trigger metadata and the ScaledObject around it. */
export interface OursDeployment {
  readonly metadata: Readonly<Record<string, string>>;
  readonly pollingIntervalMs: number;
  readonly cooldownMs: number;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  readonly behavior?: HpaBehavior;
  /** KEDA fallback: after more than this many failed reads, hold `replicas`. */
  readonly fallback?: KedaFallback;
}

export interface PolicyContext {
  /** The trace's local zone: baselines' cron schedules and our warm floor meet its clock. */
  readonly zone: string;
  readonly maxReplicas: number;
  readonly ours: OursDeployment;
  readonly hpaTolerance: number;
  /** The DCGM series the baselines' "GPU utilisation" reads. */
  readonly baselineGpuMetric: GpuMetric;
  /** The baselines' main knobs, when a sweep varies them (absent: each as configured above). */
  readonly baselineKnobs?: Partial<BaselineKnobs>;
}

/** The one setting of each baseline a team would tune first (`simulate --sweep` varies them). */
export interface BaselineKnobs {
  /** keda-queue: the azure-servicebus trigger's messageCount (messages per replica). */
  readonly queueMessagesPerReplica: number;
  /** keda-multi: its Prometheus thresholds (waiting per pod 5, GPU utilisation 80), multiplied together. */
  readonly multiThresholdScale: number;
  /** hpa-gpu: the target GPU utilisation, 0–1. */
  readonly hpaTargetUtilisation: number;
}

export const DEFAULT_BASELINE_KNOBS: BaselineKnobs = {
  queueMessagesPerReplica: 5,
  multiThresholdScale: 1,
  hpaTargetUtilisation: 0.8,
};

function knob<K extends keyof BaselineKnobs>(context: PolicyContext, key: K): BaselineKnobs[K] {
  return context.baselineKnobs?.[key] ?? DEFAULT_BASELINE_KNOBS[key];
}

export interface BuiltPolicy {
  readonly setup: ScalingSetup;
  readonly initialReplicas: (nowMs: number) => number;
  /** The warm floor in force (ours only), for the report. */
  readonly floorAt?: (nowMs: number) => number;
  readonly decisions?: { drivingFactors: Map<string, number>; changes: DecisionChanges };
  /** A second ScaledObject sizing the placeholder Deployment (warm spare GPU nodes). */
  readonly headroom?: { readonly setup: ScalingSetup; readonly initialReplicas: number };
}

export interface PolicyDefinition {
  readonly name: string;
  readonly description: string;
  /** The front ends whose signals this configuration reads (its native setting). */
  readonly frontEnds: readonly FrontEnd[];
  /** Why it is left out behind the other front end. */
  readonly frontEndNote?: string;
  build(view: WorldView, context: PolicyContext): BuiltPolicy;
}

/**
 * The ScaledObject of deploy/examples/realtime: poll 15 s, cooldown 600 s, min 0 (the warm floor
 * holds the business-hours minimum), up fast (+4 pods or +100 % per 15 s), down one pod per
 * 2 min after a 10 min window, fallback to 2 replicas after 3 failed fetches.
 */
export const OURS_REALTIME_SCALED_OBJECT: Omit<OursDeployment, "metadata"> = {
  pollingIntervalMs: 15_000,
  cooldownMs: 600_000,
  minReplicaCount: 0,
  maxReplicaCount: 8,
  behavior: {
    scaleUp: DEFAULT_HPA_BEHAVIOR.scaleUp,
    scaleDown: {
      stabilizationWindowSeconds: 600,
      selectPolicy: "Min",
      policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
    },
  },
  fallback: { failureThreshold: 3, replicas: 2 },
};

/**
 * The realtime example's trigger metadata that shapes the answer, as a user copies it: above all
 * its capacity — the published token rates of Llama-3.1-8B on one A100 (10,000 prompt tokens
 * prefilled and 2,000 tokens decoded per second), with requestsPerSecondPerReplica 2 as the prior
 * until vLLM's token counters tell the traffic's mix; `--capacity-error` multiplies all three. The
 * warm floor's schedule is rebuilt on the trace's clock (a user sets their own zone); the queue
 * name is added only behind the queue front end.
 */
export const OURS_REALTIME_METADATA: Readonly<Record<string, string>> = {
  role: "serving",
  minReplicas: "0",
  maxReplicas: "8",
  queueMode: "drain",
  latencySlaSeconds: "60",
  requestsPerSecondPerReplica: "2",
  prefillTokensPerSecondPerReplica: "10000",
  decodeTokensPerSecondPerReplica: "2000",
  targetUtilisation: "0.7",
  ttftTargetSeconds: "30",
  gpuSource: "dcgm",
  rateWindow: "2m",
  warmFloorReplicas: "1",
  warmFloorOutsideReplicas: "0",
  warmFloorPrewarmMinutes: "15",
  warmFloorCloseDelayMinutes: "30",
  warmFloorOverrides: "monthEnd=2 from 20:00 day before",
  hpaTolerance: "0.1",
};

/** The example's business window, put on the trace's clock. */
export function oursWarmFloorSchedule(zone: string): string {
  return `${zone} Mon-Fri 08:00-23:00`;
}

function inWeekdayWindow(clock: LocalClock, nowMs: number, fromMinute: number, toMinute: number): boolean {
  const local = clock.at(nowMs);
  return local.weekday <= 5 && local.minuteOfDay >= fromMinute && local.minuteOfDay < toMinute;
}

function averageValue(value: number, target: number, active: boolean): TriggerEvaluation {
  return { metric: { kind: "averageValue", value, target }, active };
}

/** KEDA's external trigger around decide(): an unavailable decision is a failed read (KEDA's fallback counts it). */
function externalTrigger(
  view: WorldView,
  spec: ScalerSpec,
  onDecision: (decision: Decision) => void,
): Trigger {
  const decider = new Decider();
  const key = `${spec.scaledObject.namespace}/${spec.scaledObject.name}`;
  return {
    name: "external",
    evaluate(nowMs) {
      const readings = { ...view.readings(nowMs, spec.sources.gpuMetric), ...view.history(spec, nowMs) };
      const d = decider.decide(key, spec, readings, view.wallTime(nowMs));
      onDecision(d);
      if (!d.available) return { error: d.summary, active: false };
      return averageValue(d.metricValue, 1, d.active);
    },
  };
}

function oursSpec(metadata: Readonly<Record<string, string>>, name: string): ScalerSpec {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) if (value !== "") cleaned[key] = value;
  return parseScalerSpec({ name, namespace: "simulated" }, cleaned, {});
}

/**
 * deploy/examples/headroom: placeholder pods sized by this scaler with role=headroom from the
 * serving Deployment's signals: one spare GPU node (at most 2) while the serving side is warm.
 */
export const HEADROOM_SCALED_OBJECT = {
  pollingIntervalMs: 15_000,
  cooldownMs: 300_000,
  minReplicaCount: 0,
  maxReplicaCount: 2,
  metadata: { role: "headroom", minReplicas: "0", maxReplicas: "2", spareReplicas: "1" },
} as const;

/** The project's decision engine, driven through KEDA's external trigger exactly as the service is. */
function oursPolicy(
  name: string,
  description: string,
  overrides: Readonly<Record<string, string>>,
  options: { headroom?: boolean } = {},
): PolicyDefinition {
  return {
    name,
    description,
    // Ours reads the queue when there is one and vLLM's own signals either way.
    frontEnds: ["queue", "http"],
    build(view, context) {
      const deployment = context.ours;
      const spec = oursSpec({ ...deployment.metadata, ...overrides }, "vllm-realtime");
      let lastDecision: Decision | undefined;
      const drivingFactors = new Map<string, number>();
      const changes = new DecisionChanges();
      const trigger = externalTrigger(view, spec, (d) => {
        lastDecision = d;
        drivingFactors.set(d.drivingFactor, (drivingFactors.get(d.drivingFactor) ?? 0) + 1);
        changes.record(d);
      });
      const hpa = {
        syncPeriodMs: HPA_SYNC_PERIOD_MS,
        tolerance: context.hpaTolerance,
        ...(deployment.behavior ? { behavior: deployment.behavior } : {}),
      };
      // The headroom trigger repeats the serving trigger's metadata key for key (as the example
      // does), and knows the serving side's maximum so it never keeps a node that cannot be used.
      const headroomSpec = options.headroom
        ? oursSpec(
            {
              ...deployment.metadata,
              ...overrides,
              ...HEADROOM_SCALED_OBJECT.metadata,
              servingMaxReplicas: String(deployment.maxReplicaCount),
            },
            "gpu-headroom",
          )
        : undefined;
      return {
        setup: {
          maxReplicas: deployment.maxReplicaCount,
          minReplicasAt: () => deployment.minReplicaCount,
          keda: {
            pollingIntervalMs: deployment.pollingIntervalMs,
            cooldownMs: deployment.cooldownMs,
            ...(deployment.fallback ? { fallback: deployment.fallback } : {}),
          },
          hpa,
          triggers: [trigger],
        },
        initialReplicas: () => deployment.minReplicaCount,
        floorAt: () => lastDecision?.floorReplicas ?? 0,
        decisions: { drivingFactors, changes },
        ...(headroomSpec
          ? {
              headroom: {
                setup: {
                  maxReplicas: HEADROOM_SCALED_OBJECT.maxReplicaCount,
                  minReplicasAt: () => HEADROOM_SCALED_OBJECT.minReplicaCount,
                  keda: {
                    pollingIntervalMs: HEADROOM_SCALED_OBJECT.pollingIntervalMs,
                    cooldownMs: HEADROOM_SCALED_OBJECT.cooldownMs,
                  },
                  hpa: { syncPeriodMs: HPA_SYNC_PERIOD_MS, tolerance: context.hpaTolerance },
                  triggers: [externalTrigger(view, headroomSpec, () => {})],
                },
                initialReplicas: HEADROOM_SCALED_OBJECT.minReplicaCount,
              },
            }
          : {}),
      };
    },
  };
}

/**
 * The Service Bus queue scaler teams start with: an azure-servicebus trigger with messageCount 5,
 * cooldown 300 s, max 8 (--max-replicas), default polling (30 s), no behaviour block; and a CronJob
 * pre-warm that sets the minimum to 1 at 07:45 and to 0 at 23:30 on weekdays (weekends 0), in the
 * trace's zone. The trigger reads the queue's active message count, which includes messages the
 * consumers hold under a peek lock until they complete them.
 */
const kedaQueue: PolicyDefinition = {
  name: "keda-queue",
  description:
    "KEDA Service Bus trigger: 5 active messages per replica, cooldown 300 s, CronJob min 1 Mon–Fri 07:45–23:30",
  frontEnds: ["queue"],
  frontEndNote: "reads a Service Bus queue's active messages: behind a load balancer there is no queue",
  build(view, context) {
    const clock = new LocalClock(context.zone);
    const minAt = (nowMs: number) =>
      inWeekdayWindow(clock, view.wallTime(nowMs), 7 * 60 + 45, 23 * 60 + 30) ? 1 : 0;
    const messageCount = knob(context, "queueMessagesPerReplica");
    const trigger: Trigger = {
      name: "azure-servicebus",
      evaluate(nowMs) {
        const messages = view.queueBacklog(nowMs);
        return averageValue(messages, messageCount, messages > 0);
      },
    };
    return {
      setup: {
        maxReplicas: context.maxReplicas,
        minReplicasAt: minAt,
        keda: { pollingIntervalMs: 30_000, cooldownMs: 300_000 },
        hpa: { syncPeriodMs: HPA_SYNC_PERIOD_MS, tolerance: context.hpaTolerance },
        triggers: [trigger],
      },
      initialReplicas: minAt,
    };
  },
};

/**
 * The multi-trigger Prometheus configuration teams grow into: Prometheus "waiting per pod" (threshold 5, activation 2), average GPU
 * utilisation (threshold 80), a cron of 3 replicas Mon–Fri 07:30–20:00; polling 10 s, cooldown
 * 120 s, min 1, max 8 (--max-replicas), and its asymmetric behaviour (up 2 pods per 30 s; down after 600 s, 1 pod
 * per 120 s). Prometheus triggers use AverageValue, so a per-pod average as the value proposes
 * ceil(average / threshold) replicas: that is how this configuration behaves in a real cluster.
 */
const kedaMulti: PolicyDefinition = {
  name: "keda-multi",
  description:
    "KEDA Prometheus triggers: waiting/pod 5, GPU util 80 %, cron 3 Mon–Fri 07:30–20:00, up 2/30 s, down 1/120 s",
  frontEnds: ["http"],
  frontEndNote:
    "serves vLLM over HTTP: behind the queue's pull consumers vLLM's waiting count per pod is capped at max-num-seqs + prefetch, which caps its waiting-per-pod trigger",
  build(view, context) {
    const clock = new LocalClock(context.zone);
    const thresholdScale = knob(context, "multiThresholdScale");
    const waitingPerPod: Trigger = {
      name: "prometheus-waiting-per-pod",
      evaluate(nowMs) {
        const s = view.snapshot(nowMs);
        // Empty result (no pods yet) → 0, KEDA's ignoreNullValues default.
        const value = s && s.podsListed > 0 ? s.waiting / s.podsListed : 0;
        return averageValue(value, 5 * thresholdScale, value > 2);
      },
    };
    const gpu: Trigger = {
      name: "prometheus-gpu-util",
      evaluate(nowMs) {
        const s = view.snapshot(nowMs);
        const value = s && s.servingPods > 0 ? gpuAverage(s, context.baselineGpuMetric) * 100 : 0;
        return averageValue(value, 80 * thresholdScale, value > 0);
      },
    };
    const cron: Trigger = {
      name: "cron",
      evaluate(nowMs) {
        // KEDA's cron scaler (pkg/scalers/cron_scaler.go): desiredReplicas inside the window,
        // 0 (and inactive) outside.
        const inside = inWeekdayWindow(clock, view.wallTime(nowMs), 7 * 60 + 30, 20 * 60);
        return averageValue(inside ? 3 : 0, 1, inside);
      },
    };
    return {
      setup: {
        maxReplicas: context.maxReplicas,
        minReplicasAt: () => 1,
        keda: { pollingIntervalMs: 10_000, cooldownMs: 120_000 },
        hpa: {
          syncPeriodMs: HPA_SYNC_PERIOD_MS,
          tolerance: context.hpaTolerance,
          behavior: {
            scaleUp: {
              stabilizationWindowSeconds: 0,
              selectPolicy: "Max",
              policies: [{ type: "Pods", value: 2, periodSeconds: 30 }],
            },
            scaleDown: {
              stabilizationWindowSeconds: 600,
              selectPolicy: "Max",
              policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
            },
          },
        },
        triggers: [waitingPerPod, gpu, cron],
      },
      initialReplicas: () => 1,
    };
  },
};

/**
 * The CPU-style HPA a team starts with, on GPU utilisation: DCGM's per-pod series through the
 * custom metrics API as a Pods metric, average 80 % per pod, min 1, default behaviour.
 */
const hpaGpu: PolicyDefinition = {
  name: "hpa-gpu",
  description: "plain HPA on GPU utilisation, target 80 %, min 1",
  frontEnds: ["queue", "http"],
  build(view, context) {
    const target = knob(context, "hpaTargetUtilisation");
    const trigger: Trigger = {
      name: "gpu-utilisation",
      evaluate(nowMs) {
        const s = view.snapshot(nowMs);
        if (!s) return { error: "Prometheus holds no DCGM sample yet", active: true };
        const samples = new Map(s.gpuByPod.map((g) => [g.podId, g]));
        const pods: PodSample[] = view.pods().map((pod) => {
          const sample = samples.get(pod.id);
          // A pod without a node is Pending; on a node its container runs (loading the model, then
          // serving) and DCGM reports its GPU from the next scrape on.
          return {
            phase: pod.phase === "pending" ? "Pending" : "Running",
            deleting: pod.phase === "terminating",
            ...(sample ? { value: podGpuValue(sample, context.baselineGpuMetric) } : {}),
          };
        });
        return { metric: { kind: "podsAverage", target, pods }, active: true };
      },
    };
    return {
      setup: {
        maxReplicas: context.maxReplicas,
        minReplicasAt: () => 1,
        hpa: { syncPeriodMs: HPA_SYNC_PERIOD_MS, tolerance: context.hpaTolerance },
        triggers: [trigger],
      },
      initialReplicas: () => 1,
    };
  },
};

const alwaysOn: PolicyDefinition = {
  name: "always-on",
  description: "a fixed fleet of max replicas, day and night",
  frontEnds: ["queue", "http"],
  build(_view, context) {
    return {
      setup: { maxReplicas: context.maxReplicas, minReplicasAt: () => context.maxReplicas, triggers: [] },
      initialReplicas: () => context.maxReplicas,
    };
  },
};

export const POLICIES: readonly PolicyDefinition[] = [
  oursPolicy(
    "ours",
    "this scaler as deploy/examples/realtime ships it: fused signals, 70 % target utilisation, warm floor, forecast",
    {},
  ),
  oursPolicy("ours-no-floor", "this scaler without the warm floor", {
    warmFloorSchedule: "",
    warmFloorOverrides: "",
  }),
  oursPolicy("ours-no-headroom", "this scaler at 100 % target utilisation, no spare replica", {
    targetUtilisation: "1",
    spareReplicas: "0",
  }),
  oursPolicy(
    "ours-warm-node",
    "this scaler plus its headroom role: placeholder pods keep a spare GPU node warm (deploy/examples/headroom)",
    {},
    { headroom: true },
  ),
  kedaQueue,
  kedaMulti,
  hpaGpu,
  alwaysOn,
];

export const DEFAULT_POLICY_NAMES = ["ours", "keda-queue", "keda-multi", "hpa-gpu", "always-on"] as const;

export function policiesByName(names: readonly string[]): PolicyDefinition[] {
  return names.map((name) => {
    const found = POLICIES.find((p) => p.name === name);
    if (!found)
      throw new Error(
        `unknown policy ${JSON.stringify(name)}: choose from ${POLICIES.map((p) => p.name).join(", ")}`,
      );
    return found;
  });
}
