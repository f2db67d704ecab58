import { type GcEvent, type GcSummary, summariseGc } from "./gc-summary.ts";

/**
 * V8's `--trace-gc-nvp` lines, read back: one line per collection, `name=value` pairs after the
 * process-relative instant ("[pid:isolate:0]   24077 ms: pause=10.4 … gc=s … promoted=2186664 …").
 */
export interface TracedCollection {
  /** Milliseconds since the isolate started. */
  readonly atMs: number;
  /** `s` for a scavenge (young generation), `mc` for a full mark-compact, `mmc` for a minor mark-compact. */
  readonly kind: string;
  readonly pauseMs: number;
  /** Bytes allocated since the previous collection. */
  readonly allocated: number;
  /** Bytes a scavenge found alive and copied within the young generation (V8's `new_space_survived`). */
  readonly stayedYoung: number;
  /** Bytes a scavenge found alive and moved to the old generation (`promoted`). */
  readonly promoted: number;
}

/** V8's names for the collections, as the GC recorder names them (gc-summary.ts). */
const GC_EVENT_KINDS: Readonly<Record<string, GcEvent["kind"]>> = { s: "scavenge", mc: "full" };

const LINE = /^\[[^\]]*\]\s+(\d+(?:\.\d+)?) ms: (.*)$/;

/** The collections in a trace, skipping every other line of the process's output. */
export function parseGcTrace(text: string): TracedCollection[] {
  const collections: TracedCollection[] = [];
  for (const line of text.split("\n")) {
    const match = LINE.exec(line);
    if (!match) continue;
    const fields = new Map<string, string>();
    for (const pair of (match[2] as string).split(" ")) {
      const at = pair.indexOf("=");
      if (at > 0) fields.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const kind = fields.get("gc");
    if (kind === undefined) continue;
    const number = (name: string) => Number(fields.get(name) ?? 0);
    collections.push({
      atMs: Number(match[1]),
      kind,
      pauseMs: number("pause"),
      allocated: number("allocated"),
      stayedYoung: number("new_space_survived"),
      promoted: number("promoted"),
    });
  }
  return collections;
}

/** The window's pauses (as the gRPC bench sums its recorder's) and its bytes per unit of work. */
export interface RetentionSummary extends GcSummary {
  /** Per unit of work (a poll): bytes allocated; alive at a scavenge (and so copied by it); of those, promoted. */
  readonly allocatedPerUnit: number;
  readonly survivedPerUnit: number;
  readonly promotedPerUnit: number;
}

/**
 * The collections within [fromMs, toMs], and their bytes per unit of work done in that window.
 * A collection's bytes are those of the allocations since the one before it, so the bytes are
 * counted from the window's first scavenge to its last (the units too, at the window's even
 * rate); a scavenge's survivors are those it kept young plus those it promoted.
 */
export function summariseRetention(
  collections: readonly TracedCollection[],
  window: { readonly fromMs: number; readonly toMs: number },
  unitsInWindow: number,
): RetentionSummary {
  const inWindow = collections.filter((c) => c.atMs >= window.fromMs && c.atMs <= window.toMs);
  const scavenges = inWindow.filter((c) => c.kind === "s");
  const first = scavenges[0];
  const last = scavenges.at(-1);
  const span = first && last ? last.atMs - first.atMs : 0;
  const units = (unitsInWindow * span) / Math.max(1, window.toMs - window.fromMs);
  // Every collection after the first scavenge up to the last: a full collection's allocations too.
  const counted = inWindow.filter((c) => first && last && c.atMs > first.atMs && c.atMs <= last.atMs);
  const perUnit = (bytes: (c: TracedCollection) => number) =>
    units > 0 ? Math.round(counted.reduce((sum, c) => sum + bytes(c), 0) / units) : Number.NaN;
  const scavenged = (bytes: (c: TracedCollection) => number) => (c: TracedCollection) =>
    c.kind === "s" ? bytes(c) : 0;
  const pauses = summariseGc(
    inWindow.map((c) => ({ atMs: c.atMs, pauseMs: c.pauseMs, kind: GC_EVENT_KINDS[c.kind] ?? "other" })),
    [{ startMs: window.fromMs, endMs: window.toMs }],
  );
  return {
    ...pauses,
    allocatedPerUnit: perUnit((c) => c.allocated),
    survivedPerUnit: perUnit(scavenged((c) => c.stayedYoung + c.promoted)),
    promotedPerUnit: perUnit(scavenged((c) => c.promoted)),
  };
}
