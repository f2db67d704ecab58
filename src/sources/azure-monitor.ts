import type { TokenCredential } from "@azure/core-auth";
import type {
  MetricsClient,
  MetricsClientOptions,
  MetricsQueryResourcesOptions,
} from "@azure/monitor-query-metrics";
import type { ServiceConfig } from "../config/service-config.ts";
import { type FailedReading, failureOf, type Reading, readingOf } from "../readings/reading.ts";
import { failureForError, failureForStatus, isAbortError, unlessAborted } from "./failures.ts";
import { requestDeadline } from "./stopping.ts";

type AzureMonitorConfig = ServiceConfig["azureMonitor"];

export interface AzureMonitorGpuQuery {
  readonly resourceIds: readonly string[];
  readonly metric: string;
  readonly metricNamespace: string;
}

/** Minutes of history asked for: platform metrics land 1–3 minutes late. */
const LOOKBACK_MS = 10 * 60_000;
const GRAIN_MS = 60_000;

/**
 * The answer of one getBatch query before this caller's clock judges it: the newest complete
 * minute per resource, averaged. Kept separate so the shared cache can hold it.
 */
export type GpuAnswer =
  | { readonly ok: true; readonly percent: number; readonly oldestPointEndMs: number }
  | FailedReading;

/**
 * Node GPU utilisation from Azure Monitor metrics (`@azure/monitor-query-metrics`, the batch
 * metrics:getBatch API). A node's GPU utilisation is what AKS pools are sized by ("70 % of the node's GPU").
 */
export class AzureMonitorGpuReader {
  /** Loaded only when configured (the SDK is slow to load), and then at once. */
  private readonly client: Promise<MetricsClient> | undefined;
  readonly problem: string | undefined;
  private readonly stopping: AbortSignal | undefined;

  private readonly config: AzureMonitorConfig;

  constructor(
    config: AzureMonitorConfig,
    options: { caPem?: Buffer; credential?: () => TokenCredential; stopping?: AbortSignal } = {},
  ) {
    this.config = config;
    this.stopping = options.stopping;
    if (!config.endpoint) {
      this.problem =
        "set env AZURE_MONITOR_METRICS_ENDPOINT (e.g. https://westeurope.metrics.monitor.azure.com)";
      return;
    }
    if (!options.credential) {
      this.problem = "no Entra ID credential for Azure Monitor";
      return;
    }
    const clientOptions: MetricsClientOptions = {
      // The client uses `audience` verbatim as the token scope, so it needs the /.default suffix.
      audience: `${config.audience.replace(/\/+$/, "")}/.default`,
      retryOptions: { maxRetries: 0 },
      ...(options.caPem ? { tlsOptions: { ca: options.caPem } } : {}),
    };
    const endpoint = config.endpoint;
    const credential = options.credential();
    this.client = import("@azure/monitor-query-metrics").then(
      ({ MetricsClient }) => new MetricsClient(endpoint, credential, clientOptions),
    );
    // A failure here surfaces in query() as a typed failure; until then it is not "unhandled".
    this.client.catch(() => {});
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  get staleAfterMs(): number {
    return this.config.staleAfterSeconds * 1000;
  }

  async query(query: AzureMonitorGpuQuery, nowMs: number, timeoutMs: number): Promise<GpuAnswer> {
    const what = `Azure Monitor ${query.metric}`;
    if (!this.client) return failureOf("azureMonitor", "not_configured", `${what}: ${this.problem}`);
    using deadline = requestDeadline(timeoutMs, this.stopping);
    const abortSignal = deadline.signal;
    const options = {
      startTime: new Date(nowMs - LOOKBACK_MS),
      endTime: new Date(nowMs),
      interval: "PT1M",
      aggregation: "average",
      // Not in the options type, but passed through to the request: the SDK honours it.
      abortSignal,
    } as MetricsQueryResourcesOptions;
    try {
      const client = await this.client;
      const work = client.queryResources(
        [...query.resourceIds],
        [query.metric],
        query.metricNamespace,
        options,
      );
      const results = await unlessAborted(work, abortSignal, () => undefined);
      if (!results) return failureForError("azureMonitor", abortSignal.reason, what, timeoutMs);
      return newestAverage(results, query, what);
    } catch (error) {
      return azureMonitorFailure(error, what, timeoutMs, abortSignal.aborted);
    }
  }
}

/** Matches by id or non-localized name: the SDK's `name` is the localized display name when one exists. */
function isRequestedMetric(metric: { id?: string; name?: string }, wanted: string): boolean {
  const lower = wanted.toLowerCase();
  const idTail = metric.id?.split("/").pop()?.toLowerCase();
  return idTail === lower || metric.name?.toLowerCase() === lower;
}

function newestAverage(
  results: Awaited<ReturnType<MetricsClient["queryResources"]>>,
  query: AzureMonitorGpuQuery,
  what: string,
): GpuAnswer {
  const perResource: { percent: number; endMs: number }[] = [];
  for (const result of results) {
    for (const metric of result.metrics ?? []) {
      if (!isRequestedMetric(metric, query.metric)) continue;
      if (metric.errorCode && metric.errorCode !== "Success")
        return failureOf("azureMonitor", "bad_response", `${what}: ${metric.errorCode.slice(0, 80)}`);
      let newest: { percent: number; endMs: number } | undefined;
      for (const series of metric.timeseries ?? [])
        for (const point of series.data ?? []) {
          const at = new Date(point.timeStamp).getTime();
          if (point.average === undefined || point.average === null || !Number.isFinite(at)) continue;
          if (!newest || at + GRAIN_MS > newest.endMs)
            newest = { percent: point.average, endMs: at + GRAIN_MS };
        }
      if (newest) perResource.push(newest);
    }
  }
  if (perResource.length === 0)
    return failureOf(
      "azureMonitor",
      "empty",
      `${what}: no data point in the last ${LOOKBACK_MS / 60_000} minutes for ${query.resourceIds.length} resource(s)`,
    );
  const percent = perResource.reduce((sum, r) => sum + r.percent, 0) / perResource.length;
  if (!Number.isFinite(percent))
    return failureOf("azureMonitor", "not_a_number", `${what}: the average is not a number`);
  return { ok: true, percent, oldestPointEndMs: Math.min(...perResource.map((r) => r.endMs)) };
}

/** This caller's reading of a (possibly cached) answer: percent → 0–1, staleness by its clock. */
export function gpuReading(answer: GpuAnswer, nowMs: number, staleAfterMs: number, metric: string): Reading {
  if (!answer.ok) return answer;
  const ageMs = nowMs - answer.oldestPointEndMs;
  if (ageMs > staleAfterMs)
    return failureOf(
      "azureMonitor",
      "stale",
      `Azure Monitor ${metric}: newest complete minute ended ${(ageMs / 1000).toFixed(0)} s ago (limit ${(staleAfterMs / 1000).toFixed(0)} s)`,
    );
  return readingOf(answer.percent / 100, answer.oldestPointEndMs);
}

function azureMonitorFailure(
  error: unknown,
  what: string,
  timeoutMs: number,
  timedOut: boolean,
): FailedReading {
  if (timedOut || isAbortError(error)) return failureForError("azureMonitor", error, what, timeoutMs);
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "CredentialUnavailableError" || name === "AuthenticationError")
    return failureOf("azureMonitor", "auth", `${what}: no Entra ID token (${name})`);
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === "number" && statusCode > 0) {
    const headers = (error as { response?: { headers?: { get?(n: string): string | undefined } } }).response
      ?.headers;
    return failureForStatus("azureMonitor", statusCode, what, headers?.get?.("retry-after"));
  }
  if (error instanceof SyntaxError || error instanceof TypeError)
    return failureOf("azureMonitor", "bad_response", `${what}: the answer is not a metrics batch response`);
  return failureForError("azureMonitor", error, what, timeoutMs);
}
