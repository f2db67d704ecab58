import { integer, oneOf, optional, setting, text } from "../setting.ts";

const KUBERNETES_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/** What is being scaled, and how the answer is handed to KEDA. */
export const targetGroup = {
  metricName: setting({
    key: "metricName",
    env: "METRIC_NAME",
    type: text({
      pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      maxLength: 63,
      allowed: "lowercase letters, digits and '-' (KEDA prefixes it with s<i>- for the HPA)",
    }),
    default: "llm-desired-replicas",
    doc: "Name of the one metric returned by GetMetricSpec. Keep it stable for the ScaledObject's life.",
  }),
  role: setting({
    key: "role",
    env: "ROLE",
    type: oneOf(["serving", "headroom"]),
    default: "serving",
    doc: "serving: replicas of the vLLM Deployment. headroom: placeholder pods that keep spare GPU nodes warm.",
  }),
  mode: setting({
    key: "mode",
    env: "MODE",
    type: oneOf(["active", "advisory"]),
    default: "active",
    doc: "advisory (shadow): decide and expose everything, but answer KEDA so that replicas stay where they are.",
  }),
  minReplicas: setting({
    key: "minReplicas",
    env: "MIN_REPLICAS",
    type: integer(0, 10_000),
    default: "0",
    doc: "Lowest count ever asked for. Keep the ScaledObject's minReplicaCount at 0 so the warm floor can reach zero.",
  }),
  maxReplicas: setting({
    key: "maxReplicas",
    env: "MAX_REPLICAS",
    type: integer(1, 10_000),
    default: "8",
    doc: "Highest count ever asked for; match the ScaledObject's maxReplicaCount and the node pool's max.",
  }),
  deployment: setting({
    key: "deployment",
    env: "TARGET_DEPLOYMENT",
    type: optional(text({ pattern: KUBERNETES_NAME, maxLength: 253, allowed: "a Kubernetes object name" })),
    doc: "The serving Deployment (kube-state-metrics `deployment` label). Unset: the ScaledObject's name.",
  }),
  podPrefix: setting({
    key: "podPrefix",
    env: "TARGET_POD_PREFIX",
    type: optional(
      text({
        pattern: KUBERNETES_NAME,
        maxLength: 253,
        allowed: "a pod name prefix (Kubernetes name characters)",
      }),
    ),
    doc: "Pods of the target are those whose name starts with this. Unset: `<deployment>-`.",
  }),
  modelName: setting({
    key: "modelName",
    env: "MODEL_NAME",
    type: optional(
      text({
        pattern: /^[A-Za-z0-9._/:@+-]{1,200}$/,
        maxLength: 200,
        allowed: "a served model name (letters, digits, . _ / : @ + -)",
      }),
    ),
    doc: "vLLM `model_name` label to read. Unset: every model served by the target's pods.",
  }),
} as const;
