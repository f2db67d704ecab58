import { boolean, integer, oneOf, optional, parsedBy, positiveNumber, setting, text } from "../setting.ts";
import { parseTenantRules } from "../tenancy.ts";

const ENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,259}$/;
const TENANT_RULES = "comma-separated <namespace>=<name> entries; a name ending in * is a prefix";
const url = (allowed: string) => optional(text({ pattern: /^https?:\/\/[^\s]+$/, allowed }));

/** Where the signals come from. Endpoints and credentials are process-wide (environment only). */
export const sourceEndpointGroups = {
  prometheus: {
    url: setting({
      env: "PROMETHEUS_URL",
      type: url("an http(s) URL such as http://prometheus.monitoring:9090"),
      doc: "Prometheus HTTP API base URL (self-hosted, or the Azure Monitor workspace's query endpoint).",
    }),
    auth: setting({
      env: "PROMETHEUS_AUTH",
      type: oneOf(["none", "bearer", "basic", "azure"]),
      default: "none",
      doc: "none | bearer (PROMETHEUS_BEARER_TOKEN) | basic (PROMETHEUS_USERNAME/PASSWORD) | azure (Entra ID token for managed Prometheus).",
    }),
    bearerToken: setting({
      env: "PROMETHEUS_BEARER_TOKEN",
      type: optional(text({ allowed: "a token", maxLength: 16384 })),
      secret: true,
      doc: "Bearer token when PROMETHEUS_AUTH=bearer.",
    }),
    username: setting({
      env: "PROMETHEUS_USERNAME",
      type: optional(text({ allowed: "a user name", maxLength: 512 })),
      doc: "Basic auth user when PROMETHEUS_AUTH=basic.",
    }),
    password: setting({
      env: "PROMETHEUS_PASSWORD",
      type: optional(text({ allowed: "a password", maxLength: 4096 })),
      secret: true,
      doc: "Basic auth password when PROMETHEUS_AUTH=basic.",
    }),
    caFile: setting({
      env: "PROMETHEUS_CA_FILE",
      type: optional(text({ allowed: "a file path", maxLength: 4096 })),
      doc: "PEM CA bundle to trust for an https Prometheus with a private CA.",
    }),
    azureScope: setting({
      env: "PROMETHEUS_AZURE_SCOPE",
      type: text({ allowed: "an Entra ID token scope", maxLength: 512 }),
      default: "https://prometheus.monitor.azure.com/.default",
      doc: "Token scope for Azure Monitor managed Prometheus (PROMETHEUS_AUTH=azure).",
    }),
    allowCustomQueries: setting({
      env: "ALLOW_CUSTOM_QUERIES",
      type: boolean(),
      default: "false",
      doc: "Allow ScaledObjects to supply full PromQL per signal (still checked for their namespace). Operators only.",
    }),
  },
  serviceBus: {
    connectionString: setting({
      env: "SERVICEBUS_CONNECTION_STRING",
      type: optional(text({ allowed: "a Service Bus connection string", maxLength: 4096 })),
      secret: true,
      doc: "SAS connection string (needs Manage rights to read runtime properties). Unset: Entra ID.",
    }),
    namespace: setting({
      env: "SERVICEBUS_NAMESPACE",
      type: optional(
        text({ pattern: /^[A-Za-z0-9.-]+(:\d+)?$/, allowed: "a host such as myns.servicebus.windows.net" }),
      ),
      doc: "Fully qualified namespace for Entra ID auth (workload identity on AKS).",
    }),
    caFile: setting({
      env: "SERVICEBUS_CA_FILE",
      type: optional(text({ allowed: "a file path", maxLength: 4096 })),
      doc: "PEM CA bundle to trust for the management endpoint (a private CA, e.g. a TLS-inspecting proxy). Replaces the public CAs for these calls only.",
    }),
    allowedEntities: setting({
      env: "SERVICEBUS_ALLOWED_ENTITIES",
      type: optional(parsedBy(TENANT_RULES, parseTenantRules)),
      doc: "Multi-tenant clusters: which queues (or topic/subscription) each Kubernetes namespace may read, e.g. `inference=chat-*,batch=batch-requests`. Unset: any.",
    }),
  },
  azureMonitor: {
    endpoint: setting({
      env: "AZURE_MONITOR_METRICS_ENDPOINT",
      type: url("an https URL such as https://westeurope.metrics.monitor.azure.com"),
      doc: "Regional Azure Monitor metrics endpoint (metrics:getBatch).",
    }),
    audience: setting({
      env: "AZURE_MONITOR_AUDIENCE",
      type: text({ pattern: /^https:\/\/[^\s]+$/, allowed: "an https audience URL" }),
      default: "https://management.azure.com",
      doc: "Entra ID audience of the metrics API (sovereign clouds: https://management.usgovcloudapi.net, …).",
    }),
    caFile: setting({
      env: "AZURE_MONITOR_CA_FILE",
      type: optional(text({ allowed: "a file path", maxLength: 4096 })),
      doc: "PEM CA bundle to trust for the metrics endpoint (private CA). Replaces the public CAs for these calls only.",
    }),
    staleAfterSeconds: setting({
      env: "AZURE_MONITOR_STALE_AFTER_SECONDS",
      type: positiveNumber(),
      default: "300",
      doc: "Azure Monitor platform metrics arrive 1–3 minutes late: a data point whose minute ended longer ago than this is `stale`.",
    }),
    allowedResources: setting({
      env: "AZURE_MONITOR_ALLOWED_RESOURCES",
      type: optional(parsedBy(TENANT_RULES, parseTenantRules)),
      doc: "Multi-tenant clusters: which resource IDs (prefix*) each Kubernetes namespace may read, e.g. `inference=/subscriptions/…/virtualMachineScaleSets/aks-gpu*`. Unset: any.",
    }),
  },
  sourceLimits: {
    timeoutMs: setting({
      env: "SOURCE_TIMEOUT_MS",
      type: integer(50, 60_000),
      default: "1500",
      doc: "Deadline of one upstream call: well inside KEDA's 3 s HPA-path deadline.",
    }),
    cacheTtlMs: setting({
      env: "SOURCE_CACHE_TTL_MS",
      type: integer(0, 600_000),
      default: "5000",
      doc: "One upstream request per query per this period, however many ScaledObjects and RPCs ask.",
    }),
    historyRefreshMs: setting({
      env: "SOURCE_HISTORY_REFRESH_MS",
      type: integer(1000, 600_000),
      default: "60000",
      doc: "The forecast's history (the inflow a day and a week ago) moves slowly: each history query is refreshed this often, not every SOURCE_CACHE_TTL_MS; at most every half SOURCE_STALE_AFTER_SECONDS, because a history answer is as old as its evaluation.",
    }),
    leadTimeRefreshMs: setting({
      env: "SOURCE_LEAD_TIME_REFRESH_MS",
      type: integer(60_000, 1_800_000),
      default: "600000",
      doc: "The measured lead time is a median over leadTimeWindowHours (a day by default) that moves a pod at a time, and its query reads every pod's timestamps over that window: it is sent this often, and its answer stays usable for two of these periods.",
    }),
    staleAfterSeconds: setting({
      env: "SOURCE_STALE_AFTER_SECONDS",
      type: positiveNumber(),
      default: "120",
      doc: "A sample older than this (by its own timestamp) is a `stale` failure, not a value.",
    }),
  },
} as const;

function customQuery(key: string, env: string, meaning: string) {
  return setting({
    key,
    env,
    type: optional(text({ maxLength: 4096, allowed: "a PromQL expression returning one series" })),
    doc: `Custom PromQL for ${meaning}. Needs ALLOW_CUSTOM_QUERIES=true; must select namespace="<ScaledObject namespace>".`,
  });
}

/**
 * A full PromQL expression per signal, for setups the built queries do not fit. Used only when
 * the operator sets ALLOW_CUSTOM_QUERIES=true, and then every selector in it must carry
 * namespace="<the ScaledObject's namespace>".
 */
const customQuerySettings = {
  waitingQuery: customQuery("waitingQuery", "CUSTOM_WAITING_QUERY", "vLLM waiting requests"),
  runningQuery: customQuery("runningQuery", "CUSTOM_RUNNING_QUERY", "vLLM running requests"),
  ttftP95Query: customQuery("ttftP95Query", "CUSTOM_TTFT_P95_QUERY", "TTFT P95 in seconds"),
  ttftRateQuery: customQuery(
    "ttftRateQuery",
    "CUSTOM_TTFT_RATE_QUERY",
    "requests per second behind the TTFT histogram",
  ),
  kvCacheQuery: customQuery("kvCacheQuery", "CUSTOM_KV_CACHE_QUERY", "KV-cache usage as a fraction 0–1"),
  gpuQuery: customQuery("gpuQuery", "CUSTOM_GPU_QUERY", "GPU utilisation as a fraction 0–1"),
  tokensPerSecondQuery: customQuery(
    "tokensPerSecondQuery",
    "CUSTOM_TOKENS_PER_SECOND_QUERY",
    "generated tokens per second per pod",
  ),
} as const;

export type CustomQueryKey = keyof typeof customQuerySettings;

/** Per-ScaledObject: which queue, which Azure resource, optional custom queries. */
export const sourceSelectionGroup = {
  serviceBusQueue: setting({
    key: "serviceBusQueue",
    env: "SERVICEBUS_QUEUE",
    type: optional(text({ pattern: ENTITY_NAME, allowed: "a Service Bus queue name" })),
    doc: "Queue whose active messages are the backlog. Exclusive with serviceBusTopic.",
  }),
  serviceBusTopic: setting({
    key: "serviceBusTopic",
    env: "SERVICEBUS_TOPIC",
    type: optional(text({ pattern: ENTITY_NAME, allowed: "a Service Bus topic name" })),
    doc: "Topic of the subscription to read (with serviceBusSubscription).",
  }),
  serviceBusSubscription: setting({
    key: "serviceBusSubscription",
    env: "SERVICEBUS_SUBSCRIPTION",
    type: optional(text({ pattern: ENTITY_NAME, allowed: "a Service Bus subscription name" })),
    doc: "Subscription of serviceBusTopic.",
  }),
  gpuSource: setting({
    key: "gpuSource",
    env: "GPU_SOURCE",
    type: oneOf(["dcgm", "azureMonitor"]),
    default: "dcgm",
    doc: "dcgm: DCGM exporter series in Prometheus. azureMonitor: a node metric from Azure Monitor.",
  }),
  gpuMetric: setting({
    key: "gpuMetric",
    env: "GPU_METRIC",
    type: oneOf(["util", "grEngineActive"]),
    default: "util",
    doc: "util: DCGM_FI_DEV_GPU_UTIL. grEngineActive: DCGM_FI_PROF_GR_ENGINE_ACTIVE (for clusters that export the profiling fields). Both are shares of time the GPU is busy, near 100 % with one sequence decoding: the GPU signal only confirms a shortage the queue reports.",
  }),
  azureMonitorResourceIds: setting({
    key: "azureMonitorResourceIds",
    env: "AZURE_MONITOR_RESOURCE_IDS",
    type: optional(
      text({
        pattern: /^(\/subscriptions\/[^\s,]+)(,\/subscriptions\/[^\s,]+)*$/,
        maxLength: 8192,
        allowed: "comma-separated Azure resource IDs",
      }),
    ),
    doc: "Resources (e.g. the GPU node pool's VMSS) whose GPU metric is read when gpuSource=azureMonitor.",
  }),
  azureMonitorMetric: setting({
    key: "azureMonitorMetric",
    env: "AZURE_MONITOR_METRIC",
    type: text({ pattern: /^[A-Za-z0-9_./ -]{1,200}$/, allowed: "a metric name (id or non-localized name)" }),
    default: "node_gpu_usage_percentage",
    doc: "Azure Monitor metric for node GPU utilisation (percent).",
  }),
  azureMonitorNamespace: setting({
    key: "azureMonitorNamespace",
    env: "AZURE_MONITOR_METRIC_NAMESPACE",
    type: text({ pattern: /^[A-Za-z0-9_./-]{1,200}$/, allowed: "a metric namespace" }),
    default: "Microsoft.Compute/virtualMachineScaleSets",
    doc: "Metric namespace of azureMonitorMetric.",
  }),
  rateWindow: setting({
    key: "rateWindow",
    env: "RATE_WINDOW",
    type: text({ pattern: /^[1-9][0-9]{0,3}[smh]$/, allowed: "a PromQL duration such as 2m or 90s" }),
    default: "2m",
    doc: "Window of rate() for TTFT P95 and tokens/s.",
  }),
  ...customQuerySettings,
  queryTimeoutMs: setting({
    key: "queryTimeoutMs",
    env: "QUERY_TIMEOUT_MS",
    type: optional(integer(50, 60_000)),
    doc: "Per-ScaledObject override of SOURCE_TIMEOUT_MS.",
  }),
} as const;
