import { TimestampParser } from "./time.ts";

/** One request per row: the Azure LLM inference trace format. */
export interface RequestTrace {
  readonly kind: "requests";
  readonly name: string;
  /** Arrival instants, ascending (ms since the epoch). */
  readonly atMs: Float64Array;
  readonly contextTokens: Float64Array;
  readonly generatedTokens: Float64Array;
}

/** Requests counted per fixed interval; NaN marks an interval with no data (not zero demand). */
export interface CountTrace {
  readonly kind: "counts";
  readonly name: string;
  readonly startMs: number;
  readonly intervalMs: number;
  readonly counts: Float64Array;
}

export type Trace = RequestTrace | CountTrace;

export interface CountColumns {
  readonly timeColumn: string;
  readonly countColumn: string;
  /** Rows whose value here is 0 are "no data". Ignored when the header lacks it. */
  readonly validColumn: string;
}

export const DEFAULT_COUNT_COLUMNS: CountColumns = {
  timeColumn: "timestamp",
  countColumn: "requests",
  validColumn: "valid",
};

export type TraceFormat = "azure" | "counts";

function splitLines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== "");
}

function headerOf(lines: string[], name: string): string[] {
  const header = lines[0];
  if (header === undefined) throw new Error(`${name}: the trace is empty`);
  return header.split(",").map((h) => h.trim());
}

/** The Azure format has TIMESTAMP,ContextTokens,GeneratedTokens; anything else is a count trace. */
export function detectFormat(text: string): TraceFormat {
  const firstLine = text.slice(0, text.indexOf("\n") >= 0 ? text.indexOf("\n") : text.length);
  const columns = firstLine.split(",").map((h) => h.trim().toLowerCase());
  return columns.includes("contexttokens") && columns.includes("generatedtokens") ? "azure" : "counts";
}

export function readAzureTrace(text: string, options: { name: string; zone: string }): RequestTrace {
  const lines = splitLines(text);
  const header = headerOf(lines, options.name).map((h) => h.toLowerCase());
  const at = header.indexOf("timestamp");
  const context = header.indexOf("contexttokens");
  const generated = header.indexOf("generatedtokens");
  if (at < 0 || context < 0 || generated < 0) {
    throw new Error(
      `${options.name}: an Azure trace needs the columns TIMESTAMP,ContextTokens,GeneratedTokens; got ${lines[0]}`,
    );
  }
  const parser = new TimestampParser(options.zone);
  const n = lines.length - 1;
  const rows: { atMs: number; context: number; generated: number }[] = [];
  for (let i = 1; i <= n; i++) {
    const cells = (lines[i] as string).split(",");
    const where = `${options.name} line ${i + 1}`;
    const atMs = parseCell(where, "TIMESTAMP", cells[at], (raw) => parser.parse(raw));
    const contextTokens = parseCount(where, "ContextTokens", cells[context]);
    const generatedTokens = parseCount(where, "GeneratedTokens", cells[generated]);
    rows.push({ atMs, context: contextTokens, generated: generatedTokens });
  }
  if (rows.length === 0) throw new Error(`${options.name}: the trace has a header but no requests`);
  rows.sort((a, b) => a.atMs - b.atMs);
  return {
    kind: "requests",
    name: options.name,
    atMs: Float64Array.from(rows, (r) => r.atMs),
    contextTokens: Float64Array.from(rows, (r) => r.context),
    generatedTokens: Float64Array.from(rows, (r) => r.generated),
  };
}

export function readCountTrace(
  text: string,
  options: { name: string; zone: string; columns?: Partial<CountColumns> },
): CountTrace {
  const columns = { ...DEFAULT_COUNT_COLUMNS, ...options.columns };
  const lines = splitLines(text);
  const header = headerOf(lines, options.name);
  const timeIndex = header.indexOf(columns.timeColumn);
  const countIndex = header.indexOf(columns.countColumn);
  const validIndex = header.indexOf(columns.validColumn);
  for (const [flag, column, index] of [
    ["--time-column", columns.timeColumn, timeIndex],
    ["--count-column", columns.countColumn, countIndex],
  ] as const) {
    if (index < 0) {
      throw new Error(
        `${options.name}: no column ${JSON.stringify(column)} (${flag}); the header has ${header.join(", ")}`,
      );
    }
  }
  const parser = new TimestampParser(options.zone);
  const rows: { atMs: number; count: number }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = (lines[i] as string).split(",");
    const where = `${options.name} line ${i + 1}`;
    const atMs = parseCell(where, columns.timeColumn, cells[timeIndex], (raw) => parser.parse(raw));
    const valid = validIndex < 0 ? true : (cells[validIndex] ?? "").trim() !== "0";
    const count = valid ? parseCount(where, columns.countColumn, cells[countIndex]) : Number.NaN;
    rows.push({ atMs, count });
  }
  if (rows.length < 2)
    throw new Error(`${options.name}: a count trace needs at least two rows to infer its interval`);
  rows.sort((a, b) => a.atMs - b.atMs);
  const intervalMs = inferIntervalMs(
    rows.map((r) => r.atMs),
    options.name,
  );
  const startMs = (rows[0] as { atMs: number }).atMs;
  const last = (rows[rows.length - 1] as { atMs: number }).atMs;
  const counts = new Float64Array(Math.round((last - startMs) / intervalMs) + 1).fill(Number.NaN);
  for (const row of rows) {
    const slot = Math.round((row.atMs - startMs) / intervalMs);
    const existing = counts[slot] as number;
    // Two rows landing in one slot (a DST repeat hour in local time) add up.
    counts[slot] = Number.isNaN(existing) ? row.count : existing + (Number.isNaN(row.count) ? 0 : row.count);
  }
  return { kind: "counts", name: options.name, startMs, intervalMs, counts };
}

/** The interval is the commonest spacing between rows; gaps are missing data. */
function inferIntervalMs(times: number[], name: string): number {
  const frequency = new Map<number, number>();
  for (let i = 1; i < times.length; i++) {
    const step = (times[i] as number) - (times[i - 1] as number);
    if (step > 0) frequency.set(step, (frequency.get(step) ?? 0) + 1);
  }
  let best = 0;
  let bestCount = 0;
  for (const [step, count] of frequency)
    if (count > bestCount) {
      best = step;
      bestCount = count;
    }
  if (best <= 0) throw new Error(`${name}: every row has the same timestamp; cannot infer the interval`);
  return best;
}

function parseCell<T>(where: string, column: string, raw: string | undefined, parse: (raw: string) => T): T {
  if (raw === undefined || raw.trim() === "") throw new Error(`${where}: ${column} is empty`);
  try {
    return parse(raw);
  } catch (error) {
    throw new Error(`${where}: ${column}: ${(error as Error).message}`);
  }
}

function parseCount(where: string, column: string, raw: string | undefined): number {
  return parseCell(where, column, raw, (text) => {
    const value = Number(text.trim());
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`must be a number ≥ 0, got ${JSON.stringify(text)}`);
    return value;
  });
}

export function readTrace(
  text: string,
  options: { name: string; zone: string; format?: TraceFormat; columns?: Partial<CountColumns> },
): Trace {
  const format = options.format ?? detectFormat(text);
  return format === "azure"
    ? readAzureTrace(text, options)
    : readCountTrace(text, { name: options.name, zone: options.zone, columns: options.columns ?? {} });
}

/** The part of a trace in [fromMs, untilMs); throws when nothing is left. */
export function sliceTrace(
  trace: Trace,
  fromMs = Number.NEGATIVE_INFINITY,
  untilMs = Number.POSITIVE_INFINITY,
): Trace {
  if (trace.kind === "requests") {
    const keep: number[] = [];
    for (let i = 0; i < trace.atMs.length; i++) {
      const at = trace.atMs[i] as number;
      if (at >= fromMs && at < untilMs) keep.push(i);
    }
    if (keep.length === 0) throw new Error(`${trace.name}: no requests between --from and --until`);
    return {
      ...trace,
      atMs: Float64Array.from(keep, (i) => trace.atMs[i] as number),
      contextTokens: Float64Array.from(keep, (i) => trace.contextTokens[i] as number),
      generatedTokens: Float64Array.from(keep, (i) => trace.generatedTokens[i] as number),
    };
  }
  const first = Math.max(0, Math.ceil((fromMs - trace.startMs) / trace.intervalMs));
  const end = Math.min(trace.counts.length, Math.ceil((untilMs - trace.startMs) / trace.intervalMs));
  if (end - first < 1) throw new Error(`${trace.name}: no intervals between --from and --until`);
  return {
    ...trace,
    startMs: trace.startMs + first * trace.intervalMs,
    counts: trace.counts.slice(first, end),
  };
}
