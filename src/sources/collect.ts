import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { TokenCredential } from "@azure/core-auth";
import { ConfigError } from "../config/resolve.ts";
import type { ServiceConfig } from "../config/service-config.ts";
import type { ScalerSpec } from "../config/spec.ts";
import { type FailedReading, failureOf, type Reading, type SourceName } from "../readings/reading.ts";
import type { SignalKey, SignalReadings } from "../readings/signal-table.ts";
import { AzureMonitorGpuReader, type GpuAnswer, gpuReading } from "./azure-monitor.ts";
import { SharedCache } from "./cache.ts";
import { unlessAborted } from "./failures.ts";
import { planReadings } from "./plan.ts";
import { answerOf, batchQueries } from "./prometheus/batch.ts";
import { PrometheusClient, type QueryAnswer } from "./prometheus/client.ts";
import { readingFromAnswer } from "./prometheus/interpret.ts";
import { type PrometheusQuery, prometheusQuery } from "./prometheus/queries.ts";
import type { QueryThreadStop } from "./prometheus/query-thread.ts";
import { historyRefreshMs, type RefreshLimits, refreshScheduleOf } from "./refresh-schedule.ts";
import { describeEntity, ServiceBusBacklogReader } from "./servicebus.ts";
import type { SignalSource } from "./signal-source.ts";
import { type SourceCounts, SourceMetrics } from "./source-metrics.ts";

/** Whether two specs hold the very same settings objects (their ScaledObjects may differ). */
function sameSettings(a: ScalerSpec, b: ScalerSpec): boolean {
  if (a === b) return true;
  const keys = Object.keys(a) as (keyof ScalerSpec)[];
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => key === "scaledObject" || a[key] === b[key]);
}

/** Distinct plans kept for sharing; past this (a churn of unusual specs) the index starts over. */
const MAX_SHARED_PLANS = 10_000;

/** Upstream traffic so far: what the load benchmark reports as "upstream requests per poll". */
export interface SourceStats {
  /** Requests sent upstream, all sources together (cache misses). */
  readonly upstreamRequests: number;
  /** Reads answered by the shared cache or by joining an in-flight request. */
  readonly cacheHits: number;
  /** Upstream failures of any kind. */
  readonly upstreamErrors: number;
  readonly bySource: Readonly<Record<SourceName, SourceCounts>>;
}

/** The process's one source of readings, as the server uses it. */
export interface ScalerSignalSource extends SignalSource {
  /** One line per source saying whether it is configured, for the startup log. Never a secret. */
  describe(): string[];
  stats(): SourceStats;
  /** Prometheus exposition of the sources' counters (ScalerServerOptions.sourceMetrics). */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export interface SignalSourceOptions {
  /** Entra ID credential for PROMETHEUS_AUTH=azure, SERVICEBUS_NAMESPACE and Azure Monitor. */
  readonly credential?: () => TokenCredential;
  readonly clock?: () => number;
  /** The thread that makes Prometheus requests stopped or could not start (serve logs it). */
  readonly onQueryThreadStop?: (stop: QueryThreadStop) => void;
  /** The Prometheus query thread's code (default: the real one; a test gives one that stops). */
  readonly queryWorkerFile?: URL;
}

function readCa(env: string, file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new ConfigError([{ where: `env ${env}`, message: `env ${env}: cannot read ${file} (${code})` }]);
  }
}

/** The URL without any user:password part, for the startup log. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = "redacted";
      parsed.password = "";
    }
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * One DefaultAzureCredential for the whole process, made on the first token request: it probes
 * the environment, and loading @azure/identity costs most of a second that a scaler using no
 * Entra ID should not pay at startup.
 */
function lazyDefaultCredential(): () => TokenCredential {
  let credential: Promise<TokenCredential> | undefined;
  const onFirstUse: TokenCredential = {
    getToken: async (scopes, options) => {
      credential ??= import("@azure/identity").then(
        ({ DefaultAzureCredential }) => new DefaultAzureCredential(),
      );
      return (await credential).getToken(scopes, options);
    },
  };
  return () => onFirstUse;
}

/**
 * Builds the sources from the process configuration: Prometheus, Service Bus and Azure Monitor
 * behind one shared cache (TTL + single-flight), each upstream call bounded by SOURCE_TIMEOUT_MS
 * (or the ScaledObject's queryTimeoutMs), and KEDA's cancellation honoured. Throws ConfigError
 * when a configured CA file cannot be read.
 */
export function createSignalSource(
  config: ServiceConfig,
  options: SignalSourceOptions = {},
): ScalerSignalSource {
  const clock = options.clock ?? Date.now;
  const credential = options.credential ?? lazyDefaultCredential();
  const limits = config.sourceLimits;
  const metrics = new SourceMetrics();
  // Aborted by close(): every upstream request still open ends, so shutdown is not held by one.
  const stopping = new AbortController();

  const prometheusUrl = config.prometheus.url;
  const prometheus = prometheusUrl
    ? new PrometheusClient(
        { ...config.prometheus, url: prometheusUrl },
        {
          caPem: readCa("PROMETHEUS_CA_FILE", config.prometheus.caFile),
          credential,
          stopping: stopping.signal,
          onQueryThreadStop: (stop) => {
            metrics.queryThreadStopped();
            options.onQueryThreadStop?.(stop);
          },
          queryWorkerFile: options.queryWorkerFile,
        },
      )
    : undefined;
  const serviceBus = new ServiceBusBacklogReader(config.serviceBus, {
    caPem: readCa("SERVICEBUS_CA_FILE", config.serviceBus.caFile),
    credential,
    clock,
    stopping: stopping.signal,
  });
  const azureMonitor = new AzureMonitorGpuReader(config.azureMonitor, {
    caPem: readCa("AZURE_MONITOR_CA_FILE", config.azureMonitor.caFile),
    credential,
    stopping: stopping.signal,
  });

  const failed = (answer: { ok: boolean }) => !answer.ok;
  /** One cache per upstream, all with the same TTL, size, jitter and failure test. */
  const sourceCache = <T extends { ok: boolean }>() =>
    new SharedCache<T>(limits.cacheTtlMs, clock, 10_000, undefined, 0.1, failed);
  const prometheusCache = sourceCache<QueryAnswer>();
  const serviceBusCache = sourceCache<Reading>();
  const azureMonitorCache = sourceCache<GpuAnswer>();

  /** Loads through the cache, counting upstream requests (background refreshes too) and hits. */
  function cached<T extends { ok: boolean }>(
    source: SourceName,
    cache: SharedCache<T>,
    key: string,
    load: () => Promise<T>,
    refreshMs?: number,
  ): Promise<T> {
    let loaded = false;
    const answer = cache.get(
      key,
      async () => {
        loaded = true;
        const started = performance.now();
        const result = await load();
        const outcome = result.ok ? { ok: true as const } : (result as unknown as Reading);
        metrics.upstream(source, outcome, (performance.now() - started) / 1000);
        return result;
      },
      refreshMs,
    );
    if (!loaded) metrics.cacheHit(source);
    return answer;
  }

  /** The cached answer when it can be given at once (see SharedCache.peek), counted as a hit. */
  function held<T extends { ok: boolean }>(
    source: SourceName,
    cache: SharedCache<T>,
    key: string,
    load: () => Promise<T>,
  ): T | undefined {
    const answer = cache.peek(key, async () => {
      const started = performance.now();
      const result = await load();
      const outcome = result.ok ? { ok: true as const } : (result as unknown as Reading);
      metrics.upstream(source, outcome, (performance.now() - started) / 1000);
      return result;
    });
    if (!answer) return undefined;
    metrics.cacheHit(source);
    return answer.value;
  }

  /**
   * What one spec reads, worked out once per spec (the decision book keeps one spec object per
   * ScaledObject): the queries built, batched and keyed, so a decision's reads are cache lookups.
   */
  interface PreparedRead {
    readonly keys: readonly SignalKey[];
    readonly source: SourceName;
    readonly run: (nowMs: number) => Promise<readonly Reading[]>;
    /** The same readings at once when they need no wait (every answer in memory), else undefined. */
    readonly now: (nowMs: number) => readonly Reading[] | undefined;
    /** Everything the read depends on, so that identical reads of two specs can be shared. */
    readonly signature: string;
  }
  interface Prepared {
    readonly reads: readonly PreparedRead[];
    /** The signals in the plan's order, the order the readings have always been given in. */
    readonly order: readonly SignalKey[];
    /** Where each of them is in the reads' answers: [read, index within it]. */
    readonly positions: readonly (readonly [number, number])[];
    /**
     * The readings last assembled and the reads' answers they came from. A read gives the very
     * same array while its answer and its staleness are unchanged, so when every read does, the
     * readings are these again: a decision between two refreshes allocates none.
     */
    lastAssembled?: { readonly parts: readonly (readonly Reading[])[]; readonly readings: SignalReadings };
  }
  const prepared = new WeakMap<ScalerSpec, Prepared>();
  const sharedPlans = new Map<string, Prepared>();
  const schedule: RefreshLimits = {
    cacheTtlMs: limits.cacheTtlMs,
    historyRefreshMs: limits.historyRefreshMs,
    leadTimeRefreshMs: limits.leadTimeRefreshMs,
    staleAfterMs: limits.staleAfterSeconds * 1000,
  };

  function prepare(spec: ScalerSpec): Prepared {
    const timeoutMs = spec.sources.queryTimeoutMs ?? limits.timeoutMs;
    const tasks = planReadings(spec, { prometheus: prometheus !== undefined, serviceBus, azureMonitor });
    const reads: PreparedRead[] = [];
    const queries: PrometheusQuery[] = [];
    for (const [key, task] of tasks) {
      switch (task.source) {
        case "prometheus": {
          const query = prometheusQuery(spec, task.signal, {
            allowCustomQueries: config.prometheus.allowCustomQueries,
          });
          if ("ok" in query) reads.push(fixed(key, query));
          else queries.push(query);
          break;
        }
        case "serviceBus": {
          // The entity and the deadline make the key: two ScaledObjects share it only when they
          // would send the very same request.
          const cacheKey = `${timeoutMs}|${describeEntity(task.entity)}`;
          const entity = task.entity;
          const load = () => serviceBus.read(entity, timeoutMs);
          // One array per answer, so that an unchanged answer is recognised as unchanged.
          let wrapped: readonly [Reading] | undefined;
          const wrap = (answer: Reading): readonly Reading[] => {
            if (wrapped?.[0] !== answer) wrapped = [answer];
            return wrapped;
          };
          reads.push({
            keys: [key],
            source: "serviceBus",
            run: async () => wrap(await cached("serviceBus", serviceBusCache, cacheKey, load)),
            now: () => {
              const answer = held("serviceBus", serviceBusCache, cacheKey, load);
              return answer && wrap(answer);
            },
            signature: `serviceBus ${key} ${cacheKey}`,
          });
          break;
        }
        case "azureMonitor": {
          const query = task.query;
          const cacheKey = [
            timeoutMs,
            query.metricNamespace,
            query.metric,
            ...[...query.resourceIds].sort(),
          ].join("|");
          // A background refresh asks for the window ending when it runs, not when a caller asked.
          const load = () => azureMonitor.query(query, clock(), timeoutMs);
          const interpret = (answer: GpuAnswer, nowMs: number) => [
            gpuReading(answer, nowMs, azureMonitor.staleAfterMs, query.metric),
          ];
          reads.push({
            keys: [key],
            source: "azureMonitor",
            run: async (nowMs) =>
              interpret(await cached("azureMonitor", azureMonitorCache, cacheKey, load), nowMs),
            now: (nowMs) => {
              const answer = held("azureMonitor", azureMonitorCache, cacheKey, load);
              return answer && interpret(answer, nowMs);
            },
            signature: `azureMonitor ${key} ${cacheKey}`,
          });
          break;
        }
        case "failure":
          reads.push(fixed(key, task.reading));
          break;
      }
    }
    const client = prometheus;
    if (client)
      for (const batch of batchQueries(queries)) {
        // The expression contains the namespace and every selector value: two ScaledObjects share
        // an entry only when they would send the very same query.
        const cacheKey = `${timeoutMs}|${batch.expr}`;
        const { refreshMs, staleAfterMs: batchStaleAfterMs } = refreshScheduleOf(
          batch.queries.map((q) => q.signal),
          schedule,
        );
        // Every ScaledObject sharing this batch reads the same answer: it is interpreted once, and
        // again only when a new answer arrives or a reading in it would turn stale.
        let last: {
          answer?: QueryAnswer;
          readings: readonly Reading[];
          sinceMs: number;
          untilMs: number;
        } = { readings: [], sinceMs: 0, untilMs: -1 };
        const load = () => client.query(batch.expr, { timeoutMs, what: batch.what });
        const interpret = (answer: QueryAnswer, nowMs: number): readonly Reading[] => {
          if (answer === last.answer && nowMs >= last.sinceMs && nowMs <= last.untilMs) return last.readings;
          const readings = batch.queries.map((q) =>
            readingFromAnswer(q, answerOf(batch, answer, q), nowMs, batchStaleAfterMs),
          );
          last = {
            answer,
            readings,
            sinceMs: nowMs,
            untilMs: stableUntil(readings, nowMs, batchStaleAfterMs),
          };
          return readings;
        };
        reads.push({
          keys: batch.queries.map((q) => q.signal),
          source: "prometheus",
          run: async (nowMs) =>
            interpret(await cached("prometheus", prometheusCache, cacheKey, load, refreshMs), nowMs),
          now: (nowMs) => {
            const answer = held("prometheus", prometheusCache, cacheKey, load);
            return answer && interpret(answer, nowMs);
          },
          signature: `prometheus ${cacheKey} ${refreshMs} ${batch.what} ${batch.queries.map((q) => `${q.custom} ${q.whenEmpty}`).join(" ")}`,
        });
      }
    const order = [...tasks.keys()];
    const position = new Map<SignalKey, readonly [number, number]>();
    reads.forEach((read, r) => {
      read.keys.forEach((key, k) => {
        position.set(key, [r, k]);
      });
    });
    const plan: Prepared = {
      reads,
      order,
      positions: order.map((key) => position.get(key) ?? [0, 0]),
    };
    // ScaledObjects that read the very same things (the ScaledObjects of one Deployment, or of one
    // namespace with the same metadata) share one plan, and with it its interpreted readings.
    const signature = createHash("sha256")
      .update(JSON.stringify([plan.order, reads.map((read) => read.signature)]))
      .digest("base64url");
    const shared = sharedPlans.get(signature);
    if (shared) return shared;
    if (sharedPlans.size >= MAX_SHARED_PLANS) sharedPlans.clear();
    sharedPlans.set(signature, plan);
    return plan;
  }

  /**
   * Until when readings interpreted at `nowMs` stay what they are: a fresh value turns stale at
   * its observation plus the staleness limit; a stale one's message counts its age, so it holds
   * for this instant only; a failure stays.
   */
  function stableUntil(readings: readonly Reading[], nowMs: number, staleAfterMs: number): number {
    let until = Number.POSITIVE_INFINITY;
    for (const reading of readings) {
      if (!reading.ok) {
        if (reading.failure.kind === "stale") return nowMs;
        continue;
      }
      until = Math.min(until, reading.observedAtMs + staleAfterMs);
    }
    return until;
  }

  function fixed(key: SignalKey, reading: FailedReading): PreparedRead {
    // Always the same array: the plan's readings are then reused across decisions (lastAssembled).
    const readings: readonly Reading[] = [reading];
    const settled = Promise.resolve(readings);
    return {
      keys: [key],
      source: reading.failure.source,
      run: () => settled,
      now: () => readings,
      signature: `fixed ${key} ${JSON.stringify(reading)}`,
    };
  }

  /**
   * Plans by the settings objects they were made from, for the ScaledObjects whose name the plan
   * does not use (they name their deployment; otherwise the name stands in for it). The decision
   * book gives every ScaledObject with the same namespace and metadata the very same settings
   * objects, so a burst of first calls (thousands of ScaledObjects of one chart after a restart)
   * prepares each distinct metadata once. Settings are never mutated: the same objects mean
   * the same plan.
   */
  const plansBySettings = new WeakMap<object, Map<string, { spec: ScalerSpec; plan: Prepared }>>();

  function preparedFor(spec: ScalerSpec): Prepared {
    let plan = prepared.get(spec);
    if (plan) return plan;
    if (spec.target.deployment === undefined) plan = prepare(spec);
    else {
      let plans = plansBySettings.get(spec.target);
      const namespace = spec.scaledObject.namespace;
      const known = plans?.get(namespace);
      if (known && sameSettings(known.spec, spec)) plan = known.plan;
      else {
        plan = prepare(spec);
        if (!plans) {
          plans = new Map();
          plansBySettings.set(spec.target, plans);
        }
        plans.set(namespace, { spec, plan });
      }
    }
    prepared.set(spec, plan);
    return plan;
  }

  /**
   * The spec's readings: at once when every read is answered from memory (the common case: a
   * decision then costs no promise), otherwise when the missing ones arrive. Each read is tried
   * once, so a hit is counted once.
   */
  function readPlan(
    spec: ScalerSpec,
    { signal, nowMs }: { signal?: AbortSignal; nowMs: number },
  ): SignalReadings | Promise<SignalReadings> {
    const plan = preparedFor(spec);
    const last = plan.lastAssembled;
    // Left undefined while every read so far answers what it answered last time.
    let results: (readonly Reading[] | Promise<readonly Reading[]>)[] | undefined;
    let waiting = false;
    for (let i = 0; i < plan.reads.length; i++) {
      const read = plan.reads[i] as PreparedRead;
      const ready = read.now(nowMs);
      if (ready && !results && last && last.parts[i] === ready) continue;
      results ??= last ? last.parts.slice(0, i) : [];
      if (ready) {
        results.push(ready);
        continue;
      }
      waiting = true;
      results.push(
        unlessAborted(read.run(nowMs), signal, () =>
          read.keys.map((key) =>
            failureOf(
              read.source,
              "timeout",
              `${key}: the caller (KEDA) cancelled before the source answered`,
            ),
          ),
        ),
      );
    }
    if (!results) {
      if (last) return last.readings;
      results = [];
    }
    if (!waiting) return assemble(plan, results as (readonly Reading[])[]);
    return Promise.all(results).then((settled) => assemble(plan, settled));
  }

  function assemble(plan: Prepared, parts: readonly (readonly Reading[])[]): SignalReadings {
    const { positions, order } = plan;
    const built: Partial<Record<SignalKey, Reading>> = {};
    for (let i = 0; i < order.length; i++) {
      const [r, k] = positions[i] as readonly [number, number];
      built[order[i] as SignalKey] = (parts[r] as readonly Reading[])[k];
    }
    // Copied once into an object of fixed shape: V8 keeps an object given more than ~16 properties
    // by computed keys as a hash table, and every stage of a decision walks and copies this record
    // (a decision took ~1.4× as long from one, in a loop). Assembled only when a read's answer
    // changed; every decision until then reads the copy.
    const readings = { ...built } as SignalReadings;
    plan.lastAssembled = { parts, readings };
    return readings;
  }

  return {
    describe: () => [
      prometheus
        ? `prometheus: ${safeUrl(config.prometheus.url ?? "")} (auth ${config.prometheus.auth}${
            config.prometheus.caFile ? ", custom CA" : ""
          }${config.prometheus.allowCustomQueries ? ", custom queries allowed" : ""})${
            prometheus.misconfiguration ? ` MISCONFIGURED: ${prometheus.misconfiguration}` : ""
          }`
        : "prometheus: off (PROMETHEUS_URL is not set): vLLM, DCGM and replica signals are not read",
      serviceBus.configured
        ? `serviceBus: ${config.serviceBus.connectionString ? "connection string" : `Entra ID, namespace ${config.serviceBus.namespace}`}`
        : `serviceBus: off (${serviceBus.problem})`,
      azureMonitor.configured
        ? `azureMonitor: ${config.azureMonitor.endpoint} (Entra ID)`
        : `azureMonitor: off (${azureMonitor.problem})`,
      `cache: refreshed in the background every ${limits.cacheTtlMs} ms (forecast history every ${historyRefreshMs(schedule)} ms, measured lead time every ${limits.leadTimeRefreshMs} ms), single-flight; upstream timeout ${limits.timeoutMs} ms; stale after ${limits.staleAfterSeconds} s`,
    ],
    stats: () => {
      const bySource = metrics.snapshot();
      const all = Object.values(bySource);
      return {
        upstreamRequests: all.reduce((n, s) => n + s.requests, 0),
        cacheHits: all.reduce((n, s) => n + s.cacheHits, 0),
        upstreamErrors: all.reduce((n, s) => n + s.errors, 0),
        bySource,
      };
    },
    metricsText: () => metrics.text(),
    close: async () => {
      stopping.abort(new Error("the scaler is shutting down"));
      prometheus?.close();
      prometheusCache.clear();
      serviceBusCache.clear();
      azureMonitorCache.clear();
    },
    read: async (spec, options) => readPlan(spec, options),
    readNowOrLater: readPlan,
  };
}
