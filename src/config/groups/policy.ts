import { boolean, fraction, nonNegativeNumber, oneOf, positiveNumber, setting } from "../setting.ts";

/**
 * Per-ScaledObject knobs of the decision engine. Each has an env default; scalerMetadata
 * overrides it. (The policy issue owns this file: extend it as rules land.)
 */
export const policyGroups = {
  queue: {
    enabled: setting({
      key: "queueEnabled",
      env: "QUEUE_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Count the backlog (Service Bus active messages plus vLLM waiting requests).",
    }),
    mode: setting({
      key: "queueMode",
      env: "QUEUE_MODE",
      type: oneOf(["drain", "perReplica"]),
      default: "drain",
      doc: "drain: replicas to clear backlog + inflow within the SLA. perReplica: KEDA's one replica per N messages.",
    }),
    latencySlaSeconds: setting({
      key: "latencySlaSeconds",
      env: "LATENCY_SLA_SECONDS",
      type: positiveNumber(),
      default: "60",
      doc: "A queued request must start within this (seed 000's < 60 s SLA).",
    }),
    requestsPerSecondPerReplica: setting({
      key: "requestsPerSecondPerReplica",
      env: "REQUESTS_PER_SECOND_PER_REPLICA",
      type: positiveNumber(),
      default: "2",
      doc: "Sustained throughput of one replica at 100 %, in requests per second.",
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
  },
  kvCache: {
    enabled: setting({
      key: "kvCacheEnabled",
      env: "KV_CACHE_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let KV-cache usage against its target vote on demand.",
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
  },
  tokens: {
    enabled: setting({
      key: "tokensEnabled",
      env: "TOKENS_ENABLED",
      type: boolean(),
      default: "true",
      doc: "Let per-pod token throughput (falling while requests wait) vote on demand.",
    }),
  },
  headroom: {
    targetUtilisation: setting({
      key: "targetUtilisation",
      env: "TARGET_UTILISATION",
      type: fraction(),
      default: "0.7",
      doc: "Early-provisioning headroom: desired = load / this, so a new pod is asked for at 70 %.",
    }),
  },
  activation: {
    activationBacklog: setting({
      key: "activationBacklog",
      env: "ACTIVATION_BACKLOG",
      type: nonNegativeNumber(),
      default: "0",
      doc: "Scale from zero when more than this many requests wait.",
    }),
  },
} as const;
