import { parseArgs } from "node:util";
import { DEFAULT_MODEL, type FrontEnd, type SimModel } from "./model.ts";
import { DEFAULT_POLICY_NAMES, POLICIES } from "./policies.ts";
import { DEFAULT_MODEL_PROFILE, MODEL_PROFILES } from "./profiles.ts";
import { checkTimeZone, TimestampParser } from "./time.ts";
import { TOKEN_SIZE_DISTRIBUTIONS, type TokenSizeDistribution } from "./token-sizes.ts";
import { type CountColumns, DEFAULT_COUNT_COLUMNS, type TraceFormat } from "./trace.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const SIMULATE_USAGE = `usage: keda-llm-scaler simulate --trace FILE [options]

Replays a request trace through the policies (this scaler's decide() and the configurations teams
use today) over a model of the queue, vLLM pods, KEDA + HPA and the Cluster Autoscaler, and
prints one row per policy and the clairvoyant oracle: SLA kept, TTFT, GPU-hours, cost, ratios to the
oracle and to the work bound.

trace
  --trace FILE                 Azure LLM trace (TIMESTAMP,ContextTokens,GeneratedTokens) or a count CSV
  --format azure|counts        default: detected from the header
  --time-column NAME           count CSV time column (default ${DEFAULT_COUNT_COLUMNS.timeColumn})
  --count-column NAME          count CSV request-count column (default ${DEFAULT_COUNT_COLUMNS.countColumn})
  --valid-column NAME          rows with 0 here are "no data", not zero demand (default ${DEFAULT_COUNT_COLUMNS.validColumn})
  --tz ZONE                    zone of timestamps without an offset, of the baselines' crons and of
                               our warm floor (default UTC; the NASA trace is America/New_York)
  --from TIME, --until TIME    replay only [from, until) of the trace (YYYY-MM-DD HH:MM on the --tz clock)
  --scale X                    multiply the arrival rate by X
  --peak-replicas N            scale so that the busiest minute needs N replicas at 100 %
  --token-sizes conv|code|reason  token sizes for count traces (default conv: the Azure conversation
                               trace; code: Azure code; reason: ServeGen DeepSeek-R1, 7x longer answers)
  --burstiness CV              rate variation between ${DEFAULT_MODEL.tickMs / 1000} s ticks for count traces (default 0: Poisson)
policies
  --policy NAME                repeatable; default ${DEFAULT_POLICY_NAMES.join(", ")};
                               also ${POLICIES.map((p) => p.name)
                                 .filter((n) => !(DEFAULT_POLICY_NAMES as readonly string[]).includes(n))
                                 .join(", ")}, or "all"
  --config FILE                ours: a ScaledObject YAML (e.g. deploy/examples/realtime/scaledobject.yaml)
                               or a mapping of scalerMetadata keys
  --metadata KEY=VALUE         repeatable; overrides ours' scalerMetadata
  --max-replicas N             every policy's maximum (default 8, as the realtime example)
  --hpa-tolerance X            cluster HPA tolerance (default 0.1)
  --capacity-error X           run ours with its capacity settings (requestsPerSecondPerReplica and the two
                               token rates) multiplied by X (default 1: the realtime example's, as a user copies them)
model (see docs/simulator.md)
  --front-end http|queue       how requests reach vLLM (default http: a load balancer, least outstanding
                               requests, vLLM's waiting queue uncapped; queue: Service Bus with competing
                               consumers). Policies whose signals do not exist there are left out, with a note.
  --model-profile NAME         ${Object.keys(MODEL_PROFILES).join(" or ")} (default ${DEFAULT_MODEL_PROFILE.name}):
                               the replica's rates, batch, KV cache and GPUs per pod; the flags below override
  --prefill-tokens-per-second N (${DEFAULT_MODEL.replica.prefillTokensPerSecond})   --decode-tokens-per-second N (${DEFAULT_MODEL.replica.decodeTokensPerSecond})
  --decode-tokens-per-second-per-sequence N (${DEFAULT_MODEL.replica.decodeTokensPerSecondPerSequence})   --max-num-seqs N (${DEFAULT_MODEL.replica.maxNumSeqs})
  --kv-cache-tokens N (${DEFAULT_MODEL.replica.kvCacheTokens})   --consumer-prefetch N (${DEFAULT_MODEL.replica.consumerPrefetch})
  --gpus-per-node N (1)   --gpus-per-pod N (1)   --min-nodes N (0)   --max-nodes N (8)
  --provision-minutes MIN-MAX (5-8)   --startup-seconds MIN-MAX (30-120)   --ca-scan-seconds N (10)
  --scale-down-unneeded-minutes N (10)   --scale-down-delay-after-add-minutes N (10)   --placeholder-pods N (0)
  --scrape-seconds N (15)   --prometheus-delay-seconds N (15)   --servicebus-delay-seconds N (0)
  --rate-window-seconds N (120: the rate()/histogram window of TTFT P95 and tokens/s)
  --drain-hours N (2: after the trace, serve what still waits for at most this long; the rest is unserved)
  --gpu-utilisation busy|throughput  what the baselines' GPU utilisation reads (default busy: the share
                               of time any kernel runs, DCGM_FI_DEV_GPU_UTIL as the Prometheus baseline queries it;
                               throughput: the share of token throughput in use, a what-if no DCGM
                               field measures). Ours reads the series its gpuMetric names (busy time).
  --sla-seconds N (60)   --dollars-per-gpu-hour X (3.4)   --seed N (1)   --tick-seconds N (5)
  --warmup-minutes N (30)
output
  --sweep                      also run each policy with its main knob over a range (ours: targetUtilisation;
                               keda-queue: messagesPerReplica; keda-multi: its thresholds scaled together;
                               hpa-gpu: targetUtilisation; always-on: replicas) and report the cheapest
                               setting of each that keeps --sla-target of requests within the SLA (slower)
  --sla-target F               share of requests within the SLA a setting must keep (default 0.999)
  --json                       print the results as JSON instead of the table
  --report FILE                write FILE.html (table + charts), FILE.svg (charts) or FILE.json (with timelines);
                               a path without one of those endings is a directory for index.html + result.json
  --timeline-points N          at most N points per chart and timeline (default 1500)
  --no-progress                no progress bar (it is shown only on a terminal anyway)
`;

export interface SimulateOptions {
  readonly traceFile: string;
  readonly format?: TraceFormat;
  readonly columns: CountColumns;
  readonly zone: string;
  readonly fromMs?: number;
  readonly untilMs?: number;
  readonly scale?: number;
  readonly peakReplicas?: number;
  readonly tokenSizes: TokenSizeDistribution;
  readonly burstiness: number;
  readonly policies: readonly string[];
  readonly configFile?: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly maxReplicas: number;
  readonly hpaTolerance: number;
  /** Ours' requestsPerSecondPerReplica is multiplied by this (a user's wrong guess of capacity). */
  readonly capacityError: number;
  readonly modelProfile: string;
  readonly model: SimModel;
  readonly json: boolean;
  readonly report?: string;
  /** At most this many points per policy in the report's time series. */
  readonly timelinePoints: number;
  readonly progress: boolean;
  readonly sweep: boolean;
  /** The share within the SLA a swept setting must reach to count (cheapestAtSla). */
  readonly slaTarget: number;
}

const NUMBER_FLAGS = [
  "scale",
  "peak-replicas",
  "burstiness",
  "max-replicas",
  "hpa-tolerance",
  "prefill-tokens-per-second",
  "decode-tokens-per-second",
  "decode-tokens-per-second-per-sequence",
  "max-num-seqs",
  "kv-cache-tokens",
  "consumer-prefetch",
  "gpus-per-node",
  "gpus-per-pod",
  "min-nodes",
  "max-nodes",
  "ca-scan-seconds",
  "scale-down-unneeded-minutes",
  "scale-down-delay-after-add-minutes",
  "placeholder-pods",
  "scrape-seconds",
  "prometheus-delay-seconds",
  "servicebus-delay-seconds",
  "sla-seconds",
  "dollars-per-gpu-hour",
  "seed",
  "tick-seconds",
  "warmup-minutes",
  "timeline-points",
  "rate-window-seconds",
  "drain-hours",
  "capacity-error",
] as const;

type NumberFlag = (typeof NUMBER_FLAGS)[number];

/** Flags that must be whole numbers, and their least allowed value. */
const WHOLE: Partial<Record<NumberFlag, number>> = {
  "peak-replicas": 1,
  "max-replicas": 1,
  "max-num-seqs": 1,
  "kv-cache-tokens": 1,
  "consumer-prefetch": 0,
  "gpus-per-node": 1,
  "gpus-per-pod": 1,
  "min-nodes": 0,
  "max-nodes": 1,
  "placeholder-pods": 0,
  seed: 0,
  "tick-seconds": 1,
  "warmup-minutes": 0,
  "timeline-points": 10,
};

const ZERO_ALLOWED: ReadonlySet<NumberFlag> = new Set([
  "scale-down-delay-after-add-minutes",
  "burstiness",
  "hpa-tolerance",
  "prometheus-delay-seconds",
  "servicebus-delay-seconds",
  "consumer-prefetch",
  "min-nodes",
  "placeholder-pods",
  "seed",
  "warmup-minutes",
]);

function numberFlag(flag: NumberFlag, raw: string): number {
  const value = Number(raw.trim());
  const whole = WHOLE[flag];
  const zeroOk = ZERO_ALLOWED.has(flag);
  const ok =
    raw.trim() !== "" &&
    Number.isFinite(value) &&
    (zeroOk ? value >= 0 : value > 0) &&
    (whole === undefined || (Number.isInteger(value) && value >= whole));
  if (!ok) {
    const kind =
      whole !== undefined ? `a whole number ≥ ${whole}` : zeroOk ? "a number ≥ 0" : "a positive number";
    throw new UsageError(`--${flag} must be ${kind}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function slaTargetFlag(raw: string | undefined): number {
  if (raw === undefined) return 0.999;
  const value = Number(raw.trim());
  if (raw.trim() === "" || !(value > 0 && value <= 1))
    throw new UsageError(`--sla-target must be a share in (0, 1], such as 0.999, got ${JSON.stringify(raw)}`);
  return value;
}

function rangeFlag(flag: string, raw: string, unitMs: number): readonly [number, number] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*$/.exec(raw);
  if (!m) throw new UsageError(`--${flag} must be "MIN-MAX" (or one number), got ${JSON.stringify(raw)}`);
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (high < low) throw new UsageError(`--${flag}: MIN must not exceed MAX, got ${JSON.stringify(raw)}`);
  return [low * unitMs, high * unitMs];
}

export function parseSimulateArgs(argv: readonly string[]): SimulateOptions {
  const numberOptions = Object.fromEntries(NUMBER_FLAGS.map((f) => [f, { type: "string" as const }]));
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        ...numberOptions,
        trace: { type: "string" },
        format: { type: "string" },
        "time-column": { type: "string" },
        "count-column": { type: "string" },
        "valid-column": { type: "string" },
        tz: { type: "string" },
        from: { type: "string" },
        until: { type: "string" },
        "token-sizes": { type: "string" },
        policy: { type: "string", multiple: true },
        config: { type: "string" },
        metadata: { type: "string", multiple: true },
        "provision-minutes": { type: "string" },
        "startup-seconds": { type: "string" },
        "gpu-utilisation": { type: "string" },
        "front-end": { type: "string" },
        "model-profile": { type: "string" },
        json: { type: "boolean" },
        sweep: { type: "boolean" },
        "sla-target": { type: "string" },
        report: { type: "string" },
        "no-progress": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  }
  try {
    parsed = parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (v.help) throw new UsageError("");
  const str = (name: string): string | undefined => v[name] as string | undefined;
  const num = (flag: NumberFlag): number | undefined => {
    const raw = str(flag);
    return raw === undefined ? undefined : numberFlag(flag, raw);
  };
  const traceFile = str("trace");
  if (!traceFile) throw new UsageError("--trace FILE is required");
  const format = str("format");
  if (format !== undefined && format !== "azure" && format !== "counts")
    throw new UsageError(`--format must be azure or counts, got ${JSON.stringify(format)}`);
  const zone = str("tz") ?? "UTC";
  try {
    checkTimeZone(zone);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const parser = new TimestampParser(zone);
  const instant = (flag: "from" | "until"): number | undefined => {
    const raw = str(flag);
    if (raw === undefined) return undefined;
    try {
      return parser.parse(raw);
    } catch (error) {
      throw new UsageError(`--${flag}: ${(error as Error).message}`);
    }
  };
  const fromMs = instant("from");
  const untilMs = instant("until");
  if (fromMs !== undefined && untilMs !== undefined && untilMs <= fromMs)
    throw new UsageError("--until must be later than --from");
  const scale = num("scale");
  const peakReplicas = num("peak-replicas");
  if (scale !== undefined && peakReplicas !== undefined)
    throw new UsageError("--scale and --peak-replicas are exclusive: give one");
  const tokenSizesName = str("token-sizes") ?? "conv";
  const tokenSizes = TOKEN_SIZE_DISTRIBUTIONS[tokenSizesName];
  if (!tokenSizes)
    throw new UsageError(
      `--token-sizes must be one of ${Object.keys(TOKEN_SIZE_DISTRIBUTIONS).join(", ")}, got ${JSON.stringify(tokenSizesName)}`,
    );
  const requested = (v.policy as string[] | undefined) ?? [...DEFAULT_POLICY_NAMES];
  const policies = requested.includes("all") ? POLICIES.map((p) => p.name) : requested;
  for (const name of policies)
    if (!POLICIES.some((p) => p.name === name))
      throw new UsageError(
        `--policy ${JSON.stringify(name)} is unknown: choose from ${POLICIES.map((p) => p.name).join(", ")}, all`,
      );
  const metadata: Record<string, string> = {};
  for (const entry of (v.metadata as string[] | undefined) ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new UsageError(`--metadata must be KEY=VALUE, got ${JSON.stringify(entry)}`);
    metadata[entry.slice(0, eq).trim()] = entry.slice(eq + 1);
  }
  const d = DEFAULT_MODEL;
  const seconds = (flag: NumberFlag, fallbackMs: number) => {
    const value = num(flag);
    return value === undefined ? fallbackMs : value * 1000;
  };
  const minutes = (flag: NumberFlag, fallbackMs: number) => {
    const value = num(flag);
    return value === undefined ? fallbackMs : value * 60_000;
  };
  const gpuUtilisation = str("gpu-utilisation") ?? d.observation.gpuUtilisation;
  if (gpuUtilisation !== "throughput" && gpuUtilisation !== "busy")
    throw new UsageError(
      `--gpu-utilisation must be throughput or busy, got ${JSON.stringify(gpuUtilisation)}`,
    );
  const frontEnd = str("front-end") ?? d.frontEnd;
  if (frontEnd !== "http" && frontEnd !== "queue")
    throw new UsageError(`--front-end must be http or queue, got ${JSON.stringify(frontEnd)}`);
  const profileName = str("model-profile") ?? DEFAULT_MODEL_PROFILE.name;
  const profile = MODEL_PROFILES[profileName];
  if (!profile)
    throw new UsageError(
      `--model-profile must be one of ${Object.keys(MODEL_PROFILES).join(", ")}, got ${JSON.stringify(profileName)}`,
    );
  const model: SimModel = {
    frontEnd: frontEnd as FrontEnd,
    replica: {
      prefillTokensPerSecond: num("prefill-tokens-per-second") ?? profile.replica.prefillTokensPerSecond,
      decodeTokensPerSecond: num("decode-tokens-per-second") ?? profile.replica.decodeTokensPerSecond,
      decodeTokensPerSecondPerSequence:
        num("decode-tokens-per-second-per-sequence") ?? profile.replica.decodeTokensPerSecondPerSequence,
      maxNumSeqs: num("max-num-seqs") ?? profile.replica.maxNumSeqs,
      kvCacheTokens: num("kv-cache-tokens") ?? profile.replica.kvCacheTokens,
      consumerPrefetch: num("consumer-prefetch") ?? d.replica.consumerPrefetch,
    },
    cluster: {
      gpusPerNode: num("gpus-per-node") ?? profile.gpusPerNode,
      gpusPerPod: num("gpus-per-pod") ?? profile.gpusPerPod,
      minNodes: num("min-nodes") ?? d.cluster.minNodes,
      maxNodes: num("max-nodes") ?? d.cluster.maxNodes,
      caScanIntervalMs: seconds("ca-scan-seconds", d.cluster.caScanIntervalMs),
      provisionDelayMs: str("provision-minutes")
        ? rangeFlag("provision-minutes", str("provision-minutes") as string, 60_000)
        : d.cluster.provisionDelayMs,
      scaleDownUnneededMs: minutes("scale-down-unneeded-minutes", d.cluster.scaleDownUnneededMs),
      scaleDownDelayAfterAddMs: minutes(
        "scale-down-delay-after-add-minutes",
        d.cluster.scaleDownDelayAfterAddMs,
      ),
      podStartupMs: str("startup-seconds")
        ? rangeFlag("startup-seconds", str("startup-seconds") as string, 1000)
        : d.cluster.podStartupMs,
      placeholderPods: num("placeholder-pods") ?? d.cluster.placeholderPods,
    },
    observation: {
      scrapeIntervalMs: seconds("scrape-seconds", d.observation.scrapeIntervalMs),
      prometheusDelayMs: seconds("prometheus-delay-seconds", d.observation.prometheusDelayMs),
      serviceBusDelayMs: seconds("servicebus-delay-seconds", d.observation.serviceBusDelayMs),
      rateWindowMs: seconds("rate-window-seconds", d.observation.rateWindowMs),
      gpuUtilisation,
    },
    tickMs: seconds("tick-seconds", d.tickMs),
    slaSeconds: num("sla-seconds") ?? d.slaSeconds,
    dollarsPerGpuHour: num("dollars-per-gpu-hour") ?? d.dollarsPerGpuHour,
    seed: num("seed") ?? d.seed,
    drainLimitMs: (num("drain-hours") ?? d.drainLimitMs / 3_600_000) * 3_600_000,
    warmupMs: minutes("warmup-minutes", d.warmupMs),
  };
  const configFile = str("config");
  const report = str("report");
  return {
    traceFile,
    ...(format ? { format: format as TraceFormat } : {}),
    columns: {
      timeColumn: str("time-column") ?? DEFAULT_COUNT_COLUMNS.timeColumn,
      countColumn: str("count-column") ?? DEFAULT_COUNT_COLUMNS.countColumn,
      validColumn: str("valid-column") ?? DEFAULT_COUNT_COLUMNS.validColumn,
    },
    zone,
    ...(fromMs !== undefined ? { fromMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    ...(scale !== undefined ? { scale } : {}),
    ...(peakReplicas !== undefined ? { peakReplicas } : {}),
    tokenSizes,
    burstiness: num("burstiness") ?? 0,
    policies,
    ...(configFile ? { configFile } : {}),
    metadata,
    maxReplicas: num("max-replicas") ?? 8,
    hpaTolerance: num("hpa-tolerance") ?? 0.1,
    capacityError: num("capacity-error") ?? 1,
    modelProfile: profile.name,
    model,
    json: v.json === true,
    timelinePoints: num("timeline-points") ?? 1500,
    ...(report ? { report } : {}),
    progress: v["no-progress"] !== true,
    sweep: v.sweep === true,
    slaTarget: slaTargetFlag(str("sla-target")),
  };
}
