import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ScaledObjectIdentity } from "../config/spec.ts";
import type { Decision, DemandSignal } from "../policy/decision.ts";

const PREFIX = "keda_llm_scaler_";
const SIGNALS: readonly DemandSignal[] = ["queue", "ttft", "kvCache", "gpu", "tokens"];
const FACTORS = [
  "queue",
  "ttft",
  "kvCache",
  "gpu",
  "tokens",
  "floor",
  "minReplicas",
  "maxReplicas",
  "hold",
  "none",
];

/** The scaler's own Prometheus metrics: RPCs, and the latest decision per ScaledObject. */
export class ScalerMetrics {
  readonly registry = new Registry();

  readonly rpcRequests = new Counter({
    name: `${PREFIX}rpc_requests_total`,
    help: "ExternalScaler RPCs answered, by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });

  readonly rpcDuration = new Histogram({
    name: `${PREFIX}rpc_duration_seconds`,
    help: "Time to answer an ExternalScaler RPC (streams: time to the first message).",
    labelNames: ["method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly openStreams = new Gauge({
    name: `${PREFIX}open_streams`,
    help: "Open StreamIsActive / StreamMetricSpec streams.",
    labelNames: ["method"] as const,
    registers: [this.registry],
  });

  private readonly desiredReplicas = this.perScaledObject("desired_replicas", "Replicas the policy wants.");
  private readonly metricValue = this.perScaledObject(
    "metric_value",
    "Value last answered to KEDA (target 1).",
  );
  private readonly active = this.perScaledObject("active", "1 when IsActive answers true.");
  private readonly available = this.perScaledObject(
    "decision_available",
    "0 while the answer is UNAVAILABLE.",
  );
  private readonly warmFloor = this.perScaledObject(
    "warm_floor_replicas",
    "Warm floor at the last decision.",
  );
  private readonly load = this.perScaledObject(
    "load_replicas",
    "Fused load in replicas at 100 % utilisation.",
  );

  private readonly signalDemand = new Gauge({
    name: `${PREFIX}signal_demand_replicas`,
    help: "Per-signal demand in replicas at 100 % utilisation (absent while the signal abstains or fails).",
    labelNames: ["namespace", "scaled_object", "signal"] as const,
    registers: [this.registry],
  });

  private readonly drivingFactor = new Gauge({
    name: `${PREFIX}driving_factor`,
    help: "1 for the signal, floor, clamp or hold that set the last answer; 0 for the others.",
    labelNames: ["namespace", "scaled_object", "factor"] as const,
    registers: [this.registry],
  });

  readonly decisionChanges = new Counter({
    name: `${PREFIX}decision_changes_total`,
    help: "Decisions whose desired replicas or activity differed from the previous one.",
    labelNames: ["namespace", "scaled_object"] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // No prefix on prom-client's defaults: the standard Node.js dashboards and alerts (and the
    // kube-prometheus-stack rules) select `process_*` and `nodejs_*`; the job label already says
    // which process they describe.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  observeDecision(decision: Decision): void {
    const labels = { namespace: decision.scaledObject.namespace, scaled_object: decision.scaledObject.name };
    this.available.set(labels, decision.available ? 1 : 0);
    this.active.set(labels, decision.active ? 1 : 0);
    this.desiredReplicas.set(labels, decision.desiredReplicas);
    this.metricValue.set(labels, decision.metricValue);
    this.warmFloor.set(labels, decision.floorReplicas);
    this.load.set(labels, decision.loadReplicas);
    for (const signal of SIGNALS) {
      const verdict = decision.signals.find((v) => v.signal === signal);
      if (verdict?.demandReplicas !== undefined)
        this.signalDemand.set({ ...labels, signal }, verdict.demandReplicas);
      else this.signalDemand.remove({ ...labels, signal });
    }
    for (const factor of FACTORS)
      this.drivingFactor.set({ ...labels, factor }, decision.drivingFactor === factor ? 1 : 0);
  }

  /** Drop a forgotten ScaledObject's series, so /metrics stays bounded. */
  forget(identity: ScaledObjectIdentity): void {
    const labels = { namespace: identity.namespace, scaled_object: identity.name };
    for (const gauge of [
      this.desiredReplicas,
      this.metricValue,
      this.active,
      this.available,
      this.warmFloor,
      this.load,
    ])
      gauge.remove(labels);
    for (const signal of SIGNALS) this.signalDemand.remove({ ...labels, signal });
    for (const factor of FACTORS) this.drivingFactor.remove({ ...labels, factor });
    this.decisionChanges.remove(labels);
  }

  private perScaledObject(name: string, help: string) {
    return new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ["namespace", "scaled_object"] as const,
      registers: [this.registry],
    });
  }
}
