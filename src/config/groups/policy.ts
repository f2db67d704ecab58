import { z } from "zod";
import { parseFloorOverrides, parseWarmSchedule } from "../schedule.ts";
import {
  boolean,
  fraction,
  integer,
  nonNegativeNumber,
  oneOf,
  optional,
  parsedBy,
  positiveNumber,
  setting,
  type ValueType,
} from "../setting.ts";

/**
 * Per-ScaledObject knobs of the decision engine (src/policy/). Each has an env default;
 * scalerMetadata overrides it. The README's policy section explains how they work together.
 */
export const policyGroups = {
  queue: {
    enabled: setting({
      key: "queueEnabled",
      env: "QUEUE_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Count the backlog: Service Bus active messages or vLLM waiting requests, whichever is larger (a peek-locked message vLLM holds is still active).",
    }),
    mode: setting({
      key: "queueMode",
      env: "QUEUE_MODE",
      type: oneOf(["drain", "perReplica"]),
      default: "drain",
      doc: "drain: replicas to carry the inflow and clear the backlog within the SLA. perReplica: KEDA's one replica per N messages.",
    }),
    latencySlaSeconds: setting({
      key: "latencySlaSeconds",
      env: "LATENCY_SLA_SECONDS",
      type: positiveNumber(),
      default: "60",
      doc: "queueMode=drain: the backlog must drain within this (a realtime SLA is typically < 60 s).",
    }),
    requestsPerSecondPerReplica: setting({
      key: "requestsPerSecondPerReplica",
      env: "REQUESTS_PER_SECOND_PER_REPLICA",
      type: positiveNumber(),
      default: "2",
      doc: "queueMode=drain: sustained throughput of one replica at 100 %, in requests per second. Measure it.",
    }),
    messagesPerReplica: setting({
      key: "messagesPerReplica",
      env: "MESSAGES_PER_REPLICA",
      type: positiveNumber(),
      default: "5",
      doc: "queueMode=perReplica: one replica per this many waiting messages (KEDA's messageCount).",
    }),
  },
  ttft: {
    enabled: setting({
      key: "ttftEnabled",
      env: "TTFT_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let TTFT P95 against its target vote on demand.",
    }),
    targetSeconds: setting({
      key: "ttftTargetSeconds",
      env: "TTFT_TARGET_SECONDS",
      type: positiveNumber(),
      default: "2",
      doc: "TTFT P95 above this, while the latency gate is open, means the ready replicas are overloaded; demand = ready × P95 / target (step-bounded).",
    }),
    minRequestsPerSecond: setting({
      key: "ttftMinRequestsPerSecond",
      env: "TTFT_MIN_REQUESTS_PER_SECOND",
      type: nonNegativeNumber(),
      default: "0.1",
      doc: "A P95 over fewer requests than this (per second, in the rate window) abstains: 0.1/s over 2 min is 12 samples.",
    }),
  },
  overload: {
    latencyGate: setting({
      key: "latencyGate",
      env: "LATENCY_GATE",
      type: oneOf(["queue", "backlog", "none"]),
      default: "queue",
      doc: "When TTFT and token throughput may vote. queue: only while the queue asks for more replicas than are ready (the queue decides whether to scale, latency how much). backlog: while anything waits. none: always.",
    }),
  },
  kvCache: {
    enabled: setting({
      key: "kvCacheEnabled",
      env: "KV_CACHE_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let KV-cache usage against its target vote on demand.",
    }),
    target: setting({
      key: "kvCacheTarget",
      env: "KV_CACHE_TARGET",
      type: fraction(),
      default: "0.8",
      doc: "KV-cache usage that counts as a full replica (vLLM preempts near 1.0); demand = ready × usage / target.",
    }),
  },
  gpu: {
    enabled: setting({
      key: "gpuEnabled",
      env: "GPU_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let GPU utilisation (DCGM or Azure Monitor) vote on demand.",
    }),
    target: setting({
      key: "gpuTarget",
      env: "GPU_TARGET",
      type: fraction(),
      default: "1",
      doc: "GPU utilisation that counts as a full replica; with 0.7 headroom a new pod is asked for above 70 %, minutes before a GPU node saturates.",
    }),
  },
  tokens: {
    enabled: setting({
      key: "tokensEnabled",
      env: "TOKENS_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let per-pod token throughput (falling while requests wait) vote on demand.",
    }),
    floorPerSecond: setting({
      key: "tokensPerSecondFloor",
      env: "TOKENS_PER_SECOND_FLOOR",
      type: positiveNumber(),
      default: "500",
      doc: "Per-pod generated tokens/s below this while the latency gate is open is overload (a saturated replica generates fewer tokens per sequence); demand = ready × floor / tokens/s.",
    }),
  },
  concurrency: {
    maxConcurrencyPerReplica: setting({
      key: "maxConcurrencyPerReplica",
      env: "MAX_CONCURRENCY_PER_REPLICA",
      type: integer(1, 100_000),
      default: "256",
      doc: "Requests one replica serves at once (vLLM's --max-num-seqs, 256 by default; set what your server runs). Running plus waiting requests over this is always demand: work in flight keeps the target active and never lets it go to zero.",
    }),
  },
  e2eLatency: {
    targetSeconds: setting({
      key: "e2eTargetSeconds",
      env: "E2E_TARGET_SECONDS",
      type: optional(positiveNumber()),
      doc: "End-to-end request latency P95 (vllm:e2e_request_latency_seconds) above this, while the latency gate is open, means the ready replicas are overloaded; demand = ready × P95 / target (step-bounded). Unset: the signal is off. It includes generation time, so derive the target from your own answers' length: long answers have a long P95 at any load.",
    }),
    minRequestsPerSecond: setting({
      key: "e2eMinRequestsPerSecond",
      env: "E2E_MIN_REQUESTS_PER_SECOND",
      type: nonNegativeNumber(),
      default: "0.1",
      doc: "An end-to-end P95 over fewer finished requests than this (per second, in the rate window) abstains.",
    }),
  },
  gpuMemory: {
    target: setting({
      key: "gpuMemoryTarget",
      env: "GPU_MEMORY_TARGET",
      type: optional(fraction()),
      doc: "GPU framebuffer use (DCGM FB_USED / (FB_USED + FB_FREE)) above this, while the latency gate is open, is memory pressure; demand = ready × usage / target (step-bounded). Unset: the signal is off. vLLM reserves --gpu-memory-utilization (0.9) of each GPU when it starts, so its framebuffer reads full at any load: there set this above that share, or use kvCacheTarget.",
    }),
  },
  headroom: {
    targetUtilisation: setting({
      key: "targetUtilisation",
      env: "TARGET_UTILISATION",
      type: fraction(),
      default: "0.7",
      doc: "Early-provisioning headroom: desired = load / this, so a new pod (and node) is asked for at 70 %, not 100 %.",
    }),
    spareReplicas: setting({
      key: "spareReplicas",
      env: "SPARE_REPLICAS",
      type: integer(0, 1000),
      default: "1",
      doc: "role=headroom: placeholder pods (each sized like one serving replica) kept while the serving side is warm; at most maxReplicas.",
    }),
    servingMaxReplicas: setting({
      key: "servingMaxReplicas",
      env: "SERVING_MAX_REPLICAS",
      type: optional(integer(1, 10_000)),
      doc: "role=headroom: the serving ScaledObject's maxReplicas. Placeholders never exceed the room it has left to grow (a spare node it cannot use is waste).",
    }),
  },
  forecast: {
    leadTimeSeconds: setting({
      key: "leadTimeSeconds",
      env: "LEAD_TIME_SECONDS",
      type: integer(0, 3600),
      default: "480",
      doc: "Time from asking for a replica to its serving: GPU node provisioning plus model load (5–8 min + 30–120 s). The forecast looks this far ahead; with leadTimeMeasured, this is the prior and the fallback.",
    }),
    leadTimeMeasured: setting({
      key: "leadTimeMeasured",
      env: "LEAD_TIME_MEASURED",
      type: boolean(),
      default: "true",
      doc: "Measure the lead time from kube-state-metrics: the median created → Ready time of the target's pods created within leadTimeWindowHours that waited for a node (scheduled over 60 s after creation), used between 0.5 × and 2 × leadTimeSeconds (at most 3600 s). No such pod, or a missing, negative or stale reading: leadTimeSeconds.",
    }),
    leadTimeWindowHours: setting({
      key: "leadTimeWindowHours",
      env: "LEAD_TIME_WINDOW_HOURS",
      type: integer(1, 168),
      default: "24",
      doc: "leadTimeMeasured: pods created this many hours ago or less count. Long enough to hold several pods that waited for a new GPU node (a daily ramp adds some every day).",
    }),
    seasons: setting({
      key: "forecastSeasons",
      env: "FORECAST_SEASONS",
      type: oneOf(["day+week", "day", "week", "none"]),
      default: "day+week",
      doc: "History read from Prometheus (offset queries over the TTFT request rate): what the inflow did over the same lead-time window yesterday and/or last week. Its rise is added to today's inflow; without history (a cold start) nothing is added.",
    }),
    trend: setting({
      key: "forecastTrend",
      env: "FORECAST_TREND",
      type: boolean(),
      default: "false",
      doc: "Continue the inflow's least-squares slope over the last forecastTrendWindowSeconds over the lead time (at most doubling it), once the rise beats forecastSignificance standard errors of counting noise for forecastTrendMinDurationSeconds. Off by default: on the shipped traces it never paid for itself (steps that do not continue).",
    }),
    trendWindowSeconds: setting({
      key: "forecastTrendWindowSeconds",
      env: "FORECAST_TREND_WINDOW_SECONDS",
      type: integer(15, 3600),
      default: "120",
      doc: "forecastTrend: the window over which the inflow's least-squares slope is measured.",
    }),
    trendMinDurationSeconds: setting({
      key: "forecastTrendMinDurationSeconds",
      env: "FORECAST_TREND_MIN_DURATION_SECONDS",
      type: integer(0, 3600),
      default: "180",
      doc: "forecastTrend: a significant rise must last this long before it is continued over the lead time (an on/off burst that is over in a few minutes buys no node).",
    }),
    significance: setting({
      key: "forecastSignificance",
      env: "FORECAST_SIGNIFICANCE",
      type: nonNegativeNumber(),
      default: "3",
      doc: "A rise (the trend's over its window, a season's over the lead time) counts only when it exceeds this many standard errors of the rate's counting noise (√(rate ÷ window) for Poisson arrivals); below that it is noise and buys nothing.",
    }),
  },
  capacity: {
    learning: setting({
      key: "capacityLearning",
      env: "CAPACITY_LEARNING",
      type: boolean(),
      default: "true",
      doc: "Learn the replica's capacity from vLLM: the traffic's prompt and generated tokens per request (with the two token rates below) and the served rate per ready pod while saturated for a whole rate window. requestsPerSecondPerReplica is the prior without token rates.",
    }),
    prefillTokensPerSecond: setting({
      key: "prefillTokensPerSecondPerReplica",
      env: "PREFILL_TOKENS_PER_SECOND_PER_REPLICA",
      type: nonNegativeNumber(),
      default: "0",
      doc: "Prompt tokens per second one replica prefills (a property of model and GPU, e.g. from vLLM's throughput benchmark). With decodeTokensPerSecondPerReplica, requests per second per replica follow the traffic's tokens per request. 0: use requestsPerSecondPerReplica.",
    }),
    decodeTokensPerSecond: setting({
      key: "decodeTokensPerSecondPerReplica",
      env: "DECODE_TOKENS_PER_SECOND_PER_REPLICA",
      type: nonNegativeNumber(),
      default: "0",
      doc: "Generated tokens per second of one replica with a full batch (max_num_seqs decoding). Set together with prefillTokensPerSecondPerReplica; 0: use requestsPerSecondPerReplica.",
    }),
    minFactor: setting({
      key: "capacityMinFactor",
      env: "CAPACITY_MIN_FACTOR",
      type: fraction(),
      default: "0.33",
      doc: "Saturation may lower the capacity to this × the figure it starts from (requestsPerSecondPerReplica, or the capacity the token rates give for the traffic's tokens per request), no further. The token rates' figure itself may be lower (a mix of long answers): a lower capacity only asks for more replicas.",
    }),
    maxFactor: setting({
      key: "capacityMaxFactor",
      env: "CAPACITY_MAX_FACTOR",
      type: numberAtLeastOne(),
      default: "3",
      doc: "The learned capacity, the token rates' figure included, stays at or below this × requestsPerSecondPerReplica (the token rates know no per-request overhead: a mix of tiny requests would promise hundreds per second).",
    }),
    timeConstantSeconds: setting({
      key: "capacityTimeConstantSeconds",
      env: "CAPACITY_TIME_CONSTANT_SECONDS",
      type: integer(1, 86_400),
      default: "120",
      doc: "Time constant of the running average of capacity samples (each already averages a rate window).",
    }),
  },
  activation: {
    activationBacklog: setting({
      key: "activationBacklog",
      env: "ACTIVATION_BACKLOG",
      type: nonNegativeNumber(),
      default: "0",
      doc: "Scale from zero when more than this many requests wait (running requests or a warm floor also keep it active).",
    }),
    gpuUtilisation: setting({
      key: "activationGpuUtilisation",
      env: "ACTIVATION_GPU_UTILISATION",
      type: optional(fraction()),
      doc: "GPU utilisation (0–1) at or below which the GPU signal is no reason to stay active, e.g. 0.6. Unset: while GPU votes demand. Requests waiting or running keep the target active regardless.",
    }),
    tokensPerSecond: setting({
      key: "activationTokensPerSecond",
      env: "ACTIVATION_TOKENS_PER_SECOND",
      type: optional(nonNegativeNumber()),
      doc: "Per-pod generated tokens/s at or below which throughput is no reason to stay active, e.g. 400. Unset: while throughput votes demand.",
    }),
    kvCacheUsage: setting({
      key: "activationKvCacheUsage",
      env: "ACTIVATION_KV_CACHE_USAGE",
      type: optional(fraction()),
      doc: "KV-cache usage (0–1) at or below which the KV-cache signal is no reason to stay active. Unset: while KV-cache votes demand.",
    }),
  },
  stability: {
    maxStepFactor: setting({
      key: "maxStepFactor",
      env: "MAX_STEP_FACTOR",
      type: numberAtLeastOne(),
      default: "2",
      doc: "TTFT and token throughput may ask for at most this many times the ready replicas in one decision.",
    }),
    utilisationSmoothingSeconds: setting({
      key: "utilisationSmoothingSeconds",
      env: "UTILISATION_SMOOTHING_SECONDS",
      type: integer(0, 3600),
      default: "60",
      doc: "Time constant of the running average of GPU utilisation and KV-cache usage (instantaneous gauges that swing between scrapes); 0: use each reading as is.",
    }),
    scaleDownBand: setting({
      key: "scaleDownBand",
      env: "SCALE_DOWN_BAND",
      type: fractionBelowOne(),
      default: "0.1",
      doc: "Hysteresis: replicas are removed only when the rest would run at most at targetUtilisation × (1 − band).",
    }),
    scaleDownDelaySeconds: setting({
      key: "scaleDownDelaySeconds",
      env: "SCALE_DOWN_DELAY_SECONDS",
      type: integer(0, 86_400),
      default: "0",
      doc: "Answer the highest count of this many seconds. 0: rely on the HPA's own 300 s scale-down stabilisation.",
    }),
    hpaTolerance: setting({
      key: "hpaTolerance",
      env: "HPA_TOLERANCE",
      type: fractionBelowOne(),
      default: "0.1",
      doc: "The HPA's tolerance on this cluster (or the ScaledObject's behavior tolerance); 0 when it is switched off.",
    }),
    stepOverTolerance: setting({
      key: "stepOverTolerance",
      env: "STEP_OVER_TOLERANCE",
      type: boolean(),
      default: "true",
      doc: "When a needed scale-up lies inside the HPA tolerance (10 → 11), ask for the smallest count the HPA acts on.",
    }),
  },
  advisory: {
    answer: setting({
      key: "advisoryAnswer",
      env: "ADVISORY_ANSWER",
      type: oneOf(["current", "abstain"]),
      default: "current",
      doc: "mode=advisory: current reports the Deployment's count (as the only trigger nothing moves); abstain reports 0 and inactive, which never outvotes the other triggers of the ScaledObject.",
    }),
  },
  failStatic: {
    holdSeconds: setting({
      key: "failStaticHoldSeconds",
      env: "FAIL_STATIC_HOLD_SECONDS",
      type: integer(0, 86_400),
      default: "120",
      doc: "A failed or stale signal votes with its last good reading for this long; meanwhile the answer never goes down. At most unavailableAfterSeconds.",
    }),
    unavailableAfterSeconds: setting({
      key: "unavailableAfterSeconds",
      env: "UNAVAILABLE_AFTER_SECONDS",
      type: integer(0, 86_400),
      default: "300",
      doc: "When no signal has had a good reading for this long, answer UNAVAILABLE so KEDA's fallback replicas apply.",
    }),
    maxReadingAgeSeconds: setting({
      key: "maxReadingAgeSeconds",
      env: "MAX_READING_AGE_SECONDS",
      type: integer(1, 86_400),
      default: "300",
      doc: "A reading observed longer ago than this is stale in the decision too (whatever its source said): it is held like a failed one and never lowers the answer. At least the sources' own staleness limits (SOURCE_STALE_AFTER_SECONDS, AZURE_MONITOR_STALE_AFTER_SECONDS).",
    }),
  },
  warmFloor: {
    schedule: setting({
      key: "warmFloorSchedule",
      env: "WARM_FLOOR_SCHEDULE",
      type: unsetOr(
        'business windows "<IANA zone> <weekdays> <HH:MM>-<HH:MM>[ <replicas>]" separated by ";" (e.g. "Asia/Singapore Mon-Fri 08:00-23:00" or "UTC Mon-Fri 08:00-10:00 5")',
        parseWarmSchedule,
      ),
      doc: "Business windows per region, in each zone's wall-clock time; inside any of them (widened by the lead and delay) the floor is the window's own count, else warmFloorReplicas; overlapping windows: the highest count. When the clock falls back a window covers both occurrences of its hours; a time the clock skips takes effect at the jump.",
    }),
    replicas: setting({
      key: "warmFloorReplicas",
      env: "WARM_FLOOR_REPLICAS",
      type: integer(0, 10_000),
      default: "1",
      doc: "The floor inside a warm window written without its own count; at most maxReplicas.",
    }),
    outsideReplicas: setting({
      key: "warmFloorOutsideReplicas",
      env: "WARM_FLOOR_OUTSIDE_REPLICAS",
      type: integer(0, 10_000),
      default: "0",
      doc: "The floor outside every window and on days not listed (weekends): 0 lets GPU nodes go. At most maxReplicas.",
    }),
    prewarmMinutes: setting({
      key: "warmFloorPrewarmMinutes",
      env: "WARM_FLOOR_PREWARM_MINUTES",
      type: integer(0, 1440),
      default: "15",
      doc: "The floor rises this long before a window opens (GPU node + model load take 5–10 min).",
    }),
    closeDelayMinutes: setting({
      key: "warmFloorCloseDelayMinutes",
      env: "WARM_FLOOR_CLOSE_DELAY_MINUTES",
      type: integer(0, 1440),
      default: "30",
      doc: "The floor stays this long after a window closes.",
    }),
    overrides: setting({
      key: "warmFloorOverrides",
      env: "WARM_FLOOR_OVERRIDES",
      type: unsetOr(
        'overrides "[<zone>] <monthEnd|quarterEnd|YYYY-MM-DD[..YYYY-MM-DD]>=<replicas>[ from HH:MM day before]" separated by ";"',
        (raw) => parseFloorOverrides(raw),
      ),
      doc: "Dated floors for known peaks (month end = last weekday); in force they replace the floor, the highest wins. Zone: the one written first in the entry, else the first schedule region's; without a schedule each entry must name its zone.",
    }),
  },
} as const;

/**
 * An optional parsed value whose errors keep the parser's detail (setting.ts's `optional`
 * replaces them with the generic phrase): empty or unset parses to undefined.
 */
function unsetOr<T>(allowed: string, parse: (raw: string) => T): ValueType<T | undefined> {
  return parsedBy(allowed, (raw) => (raw.trim() === "" ? undefined : parse(raw)));
}

/** Like setting.ts's number types, for ranges it does not offer. */
function numberWhere(allowed: string, accept: (n: number) => boolean): ValueType<number> {
  const schema = z
    .string()
    .trim()
    .refine((raw) => raw !== "" && Number.isFinite(Number(raw)) && accept(Number(raw)), { message: allowed })
    .transform(Number);
  return { schema, allowed };
}

function numberAtLeastOne(): ValueType<number> {
  return numberWhere("a number 1 or greater", (n) => n >= 1);
}

function fractionBelowOne(): ValueType<number> {
  return numberWhere("a number from 0 up to (not including) 1", (n) => n >= 0 && n < 1);
}
