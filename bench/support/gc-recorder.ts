/**
 * Loaded into each server the load bench starts (`node --import`): records every garbage
 * collection (when it started on the wall clock, how long the event loop was paused, which kind)
 * and writes them to GC_RECORD_FILE as the process exits. The bench keeps the ones inside its
 * measured window and reports them beside the latencies, because on this workload the pauses
 * are what the scaler's p99 is made of; both servers carry the recorder, so the floor pays its
 * (small) cost too. Imported without GC_RECORD_FILE, it records nothing. Node reports a
 * collection on a later turn of the event loop, so a process that never yields records none.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";

export interface GcEvent {
  /** Wall-clock start, in ms since the epoch (comparable across processes). */
  readonly atMs: number;
  readonly pauseMs: number;
  /** A scavenge (young generation), a full mark-compact, or the end of incremental marking. */
  readonly kind: "scavenge" | "full" | "incremental" | "other";
}

export interface GcSummary {
  readonly scavenges: number;
  readonly scavengeMeanMs: number;
  readonly scavengeMaxMs: number;
  /** Full mark-compacts, with the pauses that end incremental marking. */
  readonly full: number;
  readonly fullMeanMs: number;
  readonly fullMaxMs: number;
  /** Every pause together, as a share of the window. */
  readonly pausedPercent: number;
}

function kindOf(detail: unknown): GcEvent["kind"] {
  const kind = (detail as { kind?: number } | undefined)?.kind;
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) return "scavenge";
  if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) return "full";
  if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) return "incremental";
  return "other";
}

export function readGcEvents(file: string): GcEvent[] {
  return JSON.parse(readFileSync(file, "utf8")) as GcEvent[];
}

/** The collections that started inside the window, counted and timed by kind. */
export function summariseGc(
  events: readonly GcEvent[],
  window: { readonly startMs: number; readonly endMs: number },
): GcSummary {
  const inWindow = events.filter((event) => event.atMs >= window.startMs && event.atMs <= window.endMs);
  const stats = (kinds: readonly GcEvent["kind"][]) => {
    const pauses = inWindow.filter((event) => kinds.includes(event.kind)).map((event) => event.pauseMs);
    const total = pauses.reduce((sum, pause) => sum + pause, 0);
    return {
      count: pauses.length,
      meanMs: pauses.length ? total / pauses.length : 0,
      maxMs: Math.max(0, ...pauses),
    };
  };
  const scavenges = stats(["scavenge"]);
  const full = stats(["full", "incremental"]);
  const paused = inWindow.reduce((sum, event) => sum + event.pauseMs, 0);
  const round = (n: number) => Number(n.toFixed(2));
  return {
    scavenges: scavenges.count,
    scavengeMeanMs: round(scavenges.meanMs),
    scavengeMaxMs: round(scavenges.maxMs),
    full: full.count,
    fullMeanMs: round(full.meanMs),
    fullMaxMs: round(full.maxMs),
    pausedPercent: round((100 * paused) / Math.max(1, window.endMs - window.startMs)),
  };
}

const file = process.env.GC_RECORD_FILE;
if (file) {
  const events: GcEvent[] = [];
  const record = (entries: readonly PerformanceEntry[]) => {
    for (const entry of entries)
      events.push({
        atMs: performance.timeOrigin + entry.startTime,
        pauseMs: entry.duration,
        kind: kindOf((entry as PerformanceEntry & { detail?: unknown }).detail),
      });
  };
  const observer = new PerformanceObserver((list) => record(list.getEntries()));
  observer.observe({ entryTypes: ["gc"] });
  // Entries reach the observer in batches, later: the ones still queued at exit are taken here.
  process.on("exit", () => {
    record(observer.takeRecords());
    writeFileSync(file, JSON.stringify(events));
  });
}
