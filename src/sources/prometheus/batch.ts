import type { QueryAnswer, Sample } from "./client.ts";
import type { PrometheusQuery, PrometheusSignal } from "./queries.ts";

/** Label that tells the signals of one batched request apart. */
export const SIGNAL_LABEL = "scaler_signal";

/**
 * Signals that read the same series family of the same target and therefore fail together anyway:
 * one request for the family instead of one per signal. Replica counts share the Deployment's
 * kube-state-metrics series, the TTFT and end-to-end pairs their histogram, and the four history
 * readings the TTFT counter (and their slow refresh).
 */
const FAMILY: Partial<Record<PrometheusSignal, string>> = {
  replicasDesired: "replicas",
  replicasReady: "replicas",
  replicasUnavailable: "replicas",
  ttftP95Seconds: "ttft",
  ttftRequestsPerSecond: "ttft",
  e2eP95Seconds: "e2e",
  e2eRequestsPerSecond: "e2e",
  inflowDayAgo: "history",
  inflowPeakAheadDayAgo: "history",
  inflowWeekAgo: "history",
  inflowPeakAheadWeekAgo: "history",
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
  const families = new Map<string, PrometheusQuery[]>();
  const batches: PrometheusQuery[][] = [];
  for (const query of queries) {
    const family = query.custom ? undefined : FAMILY[query.signal];
    if (!family) {
      batches.push([query]);
      continue;
    }
    const members = families.get(family);
    if (members) members.push(query);
    else {
      const started = [query];
      families.set(family, started);
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
