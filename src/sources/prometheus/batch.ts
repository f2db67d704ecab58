import type { QueryAnswer, Sample } from "./client.ts";
import { HISTORY_QUERIES, type PrometheusQuery, type PrometheusSignal } from "./queries.ts";

/** Label that tells the signals of one batched request apart. */
export const SIGNAL_LABEL = "scaler_signal";

/**
 * Signals that go to Prometheus in one request. A request's cost here (a connection write, an
 * HTTP round trip, a JSON parse, all on the event loop that answers KEDA) dwarfs Prometheus' cost
 * of one more namespace-scoped selector, so signals are grouped as widely as they fail together:
 *
 * - every vLLM reading: one scrape of the same pods dates them all (each is judged stale from the
 *   same running gauge), and none of these expressions can fail on its own — no vector matching
 *   between series that could find duplicates;
 * - the Deployment's three replica counts: one kube-state-metrics series family;
 * - DCGM's utilisation gauge;
 * - the history readings: the TTFT counter, on their own slow refresh;
 * - the two measured lead-time readings: kube-state-metrics' pod timestamps over hours, also on
 *   the slow refresh. Apart from the history: a range of a day over every pod of the target is
 *   the heaviest query the scaler sends, and its timeout must not take the seasons with it.
 *
 * GPU memory goes alone: its `used / (used + free)` pairs series one to one, and a dcgm-exporter
 * scraped twice makes that division an error that must not take the vLLM readings down with it.
 */
const GROUP: Partial<Record<PrometheusSignal, string>> = {
  vllmWaiting: "vllm",
  vllmRunning: "vllm",
  ttftP95Seconds: "vllm",
  ttftRequestsPerSecond: "vllm",
  kvCacheUsage: "vllm",
  tokensPerSecondPerPod: "vllm",
  promptTokensPerSecond: "vllm",
  generationTokensPerSecond: "vllm",
  e2eP95Seconds: "vllm",
  e2eRequestsPerSecond: "vllm",
  replicasDesired: "replicas",
  replicasReady: "replicas",
  replicasUnavailable: "replicas",
  gpuUtilisation: "dcgm",
  ...Object.fromEntries(Object.keys(HISTORY_QUERIES).map((signal) => [signal, "history"])),
  leadTimeObserved: "leadTime",
  leadTimePods: "leadTime",
};

export interface QueryBatch {
  readonly queries: readonly PrometheusQuery[];
  /** One request for all of them: each query's series marked with its signal. */
  readonly expr: string;
  readonly what: string;
}

/**
 * The queries grouped into requests. Custom queries always go alone: they are the operator's
 * text, which may fail on its own, and must not take built signals down with it.
 */
export function batchQueries(queries: readonly PrometheusQuery[]): QueryBatch[] {
  const groups = new Map<string, PrometheusQuery[]>();
  const batches: PrometheusQuery[][] = [];
  for (const query of queries) {
    const group = query.custom ? undefined : GROUP[query.signal];
    if (!group) {
      batches.push([query]);
      continue;
    }
    const members = groups.get(group);
    if (members) members.push(query);
    else {
      const started = [query];
      groups.set(group, started);
      batches.push(started);
    }
  }
  return batches.map(batchOf);
}

function batchOf(queries: readonly PrometheusQuery[]): QueryBatch {
  const first = queries[0] as PrometheusQuery;
  if (queries.length === 1) return { queries, expr: first.expr, what: first.what };
  return {
    queries,
    // The marker makes every label set distinct, so `or` keeps the series of every signal.
    expr: queries
      .map((q) => `label_replace(${q.expr}, "${SIGNAL_LABEL}", "${q.signal}", "", "")`)
      .join(" or "),
    // Built queries say "<signal> in namespace <ns>": the batch names all its signals once.
    what: `${queries.map((q) => q.signal).join(", ")}${first.what.slice(first.signal.length)}`,
  };
}

/** Per answer object, its split by signal: every ScaledObject sharing the answer reuses it. */
const splits = new WeakMap<object, Map<string, QueryAnswer>>();

/** The part of a batch's answer that belongs to one of its queries, as if it had been asked alone. */
export function answerOf(batch: QueryBatch, answer: QueryAnswer, query: PrometheusQuery): QueryAnswer {
  if (batch.queries.length === 1 || !answer.ok) return answer;
  let split = splits.get(answer);
  if (!split) {
    const samples = new Map<string, Sample[]>(batch.queries.map((q) => [q.signal, []]));
    for (const sample of answer.samples) samples.get(sample.labels[SIGNAL_LABEL] ?? "")?.push(sample);
    split = new Map([...samples].map(([signal, part]) => [signal, { ok: true as const, samples: part }]));
    splits.set(answer, split);
  }
  return split.get(query.signal) ?? { ok: true, samples: [] };
}
