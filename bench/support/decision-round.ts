/**
 * One round of `npm run bench:decisions`, in a process of its own started by bench/decision-cost.ts
 * with the image's `node` flags and the Deployment's NODE_OPTIONS: the compiled decision book and
 * signal source (dist/, as the image runs them) against the fleet's Prometheus, polled as KEDA
 * polls. Prints one JSON line: the round's figures (RoundResult).
 *
 *   node <flags> bench/support/decision-round.ts '<RoundPlan as JSON>'
 */
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fleetScaledObject } from "./fleet-process.ts";

export type Mode = "deciding" | "reusing";

export interface RoundPlan {
  readonly mode: Mode;
  readonly prometheusUrl: string;
  readonly scaledObjects: number;
  readonly namespaces: number;
  readonly intervalMs: number;
  readonly seconds: number;
  /** The repository's dist/ folder, where `npm run build` put the compiled service. */
  readonly distDir: string;
}

export interface RoundResult {
  readonly mode: Mode;
  readonly polls: number;
  readonly decisions: number;
  /** The process's CPU time in the window, every thread (the query thread, the collector's helpers). */
  readonly userMs: number;
  readonly systemMs: number;
  /** The main thread's own CPU time in the window: the thread KEDA's calls share. */
  readonly mainThreadMs: number;
  /** The main thread's garbage-collection pauses in the window (as reported; see below). */
  readonly gcPauseMs: number;
  readonly seconds: number;
}

/**
 * Polls before the window: a ScaledObject's rhythm is known from its fifth poll (three gaps in a
 * row that agree, src/server/poll-rhythm.ts), so from the sixth its decisions are made ahead. The
 * window opens after that, as in a cluster in steady state.
 */
export const WARM_UP_POLLS = 6;

/** How often the poller wakes to send the polls that came due (KEDA's loops, one per ScaledObject). */
const TICK_MS = 10;

/** A poll still under way when the window closes is waited for this long at most. */
const DRAIN_MS = 5000;

async function runRound(plan: RoundPlan): Promise<RoundResult> {
  const dist = (path: string) => pathToFileURL(`${plan.distDir}/${path}`).href;
  const { loadServiceConfig } = (await import(
    dist("src/config/service-config.js")
  )) as typeof import("../../src/config/service-config.ts");
  const { DecisionBook } = (await import(
    dist("src/server/decision-book.js")
  )) as typeof import("../../src/server/decision-book.ts");
  const { createSignalSource } = (await import(
    dist("src/sources/collect.js")
  )) as typeof import("../../src/sources/collect.ts");
  type ScaledObjectRequest = import("../../src/server/decision-book.ts").ScaledObjectRequest;

  // Entries reported by Node a turn or more after each collection: a pause right at an edge of
  // the window can be counted on the wrong side of it (a few ms in a window of seconds).
  let gcPausedMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPausedMs += entry.duration;
  });
  observer.observe({ entryTypes: ["gc"] });

  const env = { PROMETHEUS_URL: plan.prometheusUrl };
  const config = loadServiceConfig(env);
  const source = createSignalSource(config);
  let decisions = 0;
  let errors = 0;
  const book = new DecisionBook({
    source,
    env,
    clock: Date.now,
    // Reusing: a TTL longer than the run, so that every poll after the first is answered from
    // the decision in hand. (No poll rhythm is learned then: its shortest gap is half the TTL.)
    decisionTtlMs: plan.mode === "deciding" ? config.server.decisionTtlSeconds * 1000 : 24 * 3600_000,
    maxEntries: Math.max(config.server.maxScaledObjects, plan.scaledObjects),
    onDecision: () => {
      decisions++;
    },
    // A decision made ahead that failed: counted, and the round refused.
    onError: () => {
      errors++;
    },
  });
  // Each request as JSON, parsed at every call: new strings, as a decoded gRPC message brings.
  const requests = Array.from({ length: plan.scaledObjects }, (_, index) =>
    JSON.stringify(fleetScaledObject(index, plan.namespaces, "keda-llm-scaler:9090")),
  );
  let pending = 0;
  let failures = 0;
  const poll = async (index: number): Promise<void> => {
    pending++;
    try {
      // GetMetrics and IsActive: one lookup each, as the service makes one per call.
      for (let call = 0; call < 2; call++)
        await book.decisionOf(book.lookup(JSON.parse(requests[index]!) as ScaledObjectRequest), true);
    } catch {
      failures++;
    } finally {
      pending--;
    }
  };

  let polls = 0;
  const startMs = Date.now();
  // The polls in the order they come due: the nth is ScaledObject n mod N, due n/N intervals in.
  const dueAtMs = (n: number) => startMs + (n / plan.scaledObjects) * plan.intervalMs;
  const windowOpensMs = startMs + WARM_UP_POLLS * plan.intervalMs;
  const windowClosesMs = windowOpensMs + plan.seconds * 1000;
  const snapshot = () => ({
    cpu: process.cpuUsage(),
    thread: process.threadCpuUsage(),
    gcPausedMs,
    polls,
    decisions,
    problems: failures + errors,
  });
  let before: ReturnType<typeof snapshot> | undefined;
  let after: ReturnType<typeof snapshot> | undefined;
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      const nowMs = Date.now();
      if (!before && nowMs >= windowOpensMs) before = snapshot();
      if (nowMs >= windowClosesMs) {
        after = snapshot();
        clearInterval(ticker);
        resolve();
        return;
      }
      while (dueAtMs(polls) <= nowMs) {
        const index = polls % plan.scaledObjects;
        polls++;
        void poll(index);
      }
    }, TICK_MS);
  });
  // Polls still under way finish before the source closes (closing aborts its open reads).
  const drainUntilMs = Date.now() + DRAIN_MS;
  while (pending > 0 && Date.now() < drainUntilMs) await new Promise((resolve) => setTimeout(resolve, 10));
  const unfinished = pending;
  const problems = failures + errors;
  book.close();
  await source.close();
  observer.disconnect();
  if (!before || !after) throw new Error("the measured window never opened");
  if (problems > 0 || unfinished > 0)
    throw new Error(`${plan.mode} round: ${problems} polls or decisions failed, ${unfinished} unfinished`);
  const micros = (a: { user: number; system: number }, b: { user: number; system: number }) => ({
    user: (b.user - a.user) / 1000,
    system: (b.system - a.system) / 1000,
  });
  const cpu = micros(before.cpu, after.cpu);
  const thread = micros(before.thread, after.thread);
  return {
    mode: plan.mode,
    polls: after.polls - before.polls,
    decisions: after.decisions - before.decisions,
    userMs: cpu.user,
    systemMs: cpu.system,
    mainThreadMs: thread.user + thread.system,
    gcPauseMs: after.gcPausedMs - before.gcPausedMs,
    seconds: plan.seconds,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runRound(JSON.parse(process.argv[2] ?? "") as RoundPlan);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
