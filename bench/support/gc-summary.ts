/**
 * What the GC recorder (gc-recorder.mjs) wrote for one process (a server, or the load generator),
 * read back and summed over the bench's measured window.
 */
import { readFileSync } from "node:fs";

export interface GcEvent {
  /** Wall-clock start, in ms since the epoch (comparable across processes). */
  readonly atMs: number;
  readonly pauseMs: number;
  /**
   * A scavenge (young generation), a full mark-compact, the pause that starts incremental
   * marking (one before most full collections), or another (weak callbacks).
   */
  readonly kind: "scavenge" | "full" | "incremental" | "other";
}

export interface GcSummary {
  readonly scavenges: number;
  readonly scavengeMeanMs: number;
  readonly scavengeMaxMs: number;
  /** Full mark-compacts. */
  readonly full: number;
  readonly fullMeanMs: number;
  readonly fullMaxMs: number;
  /**
   * Every pause Node reports, as a share of the window. A lower bound: the steps of incremental
   * marking that run between collections are not reported.
   */
  readonly pausedPercent: number;
}

/** The recorded collections, or undefined when the process left no file (it died without exiting). */
export function readGcEvents(file: string): GcEvent[] | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as GcEvent[];
  } catch {
    return undefined;
  }
}

export interface Window {
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * The collections that started inside the windows (a server's measured rounds), counted and
 * timed by kind; the paused share is of the windows' time together.
 */
export function summariseGc(events: readonly GcEvent[], windows: readonly Window[]): GcSummary {
  const inWindow = events.filter((event) =>
    windows.some((window) => event.atMs >= window.startMs && event.atMs <= window.endMs),
  );
  const stats = (kind: GcEvent["kind"]) => {
    const pauses = inWindow.filter((event) => event.kind === kind).map((event) => event.pauseMs);
    const total = pauses.reduce((sum, pause) => sum + pause, 0);
    return {
      count: pauses.length,
      meanMs: pauses.length ? total / pauses.length : 0,
      maxMs: pauses.reduce((max, pause) => Math.max(max, pause), 0),
    };
  };
  const scavenges = stats("scavenge");
  const full = stats("full");
  const paused = inWindow.reduce((sum, event) => sum + event.pauseMs, 0);
  const measuredMs = windows.reduce((sum, window) => sum + (window.endMs - window.startMs), 0);
  const round = (n: number) => Number(n.toFixed(2));
  return {
    scavenges: scavenges.count,
    scavengeMeanMs: round(scavenges.meanMs),
    scavengeMaxMs: round(scavenges.maxMs),
    full: full.count,
    fullMeanMs: round(full.meanMs),
    fullMaxMs: round(full.maxMs),
    pausedPercent: round((100 * paused) / Math.max(1, measuredMs)),
  };
}
