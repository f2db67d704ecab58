import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DateTime } from "luxon";
import { kustomizeNamespaceOf } from "../config/kustomize-namespace.ts";
import { ConfigError } from "../config/resolve.ts";
import { type ExternalTrigger, externalTriggersIn } from "../config/scaledobject.ts";
import { parseScalerSpec, type ScalerSpec } from "../config/spec.ts";
import { Decider } from "../policy/decider.ts";
import type { Decision, DemandSignal, SignalVerdict } from "../policy/decision.ts";
import { round2 } from "../policy/format.ts";
import { FAILURE_KINDS, type FailureKind, failureOf, type Reading, readingOf } from "../readings/reading.ts";
import { SIGNAL_KEYS, SIGNAL_TABLE, type SignalKey, type SignalReadings } from "../readings/signal-table.ts";

const USAGE = `usage: keda-llm-scaler explain [options]

Prints the decision the scaler would make, and every reason for it: each signal's reading and
demand, the fused load, headroom, warm floor, the rules that fired, and what is sent to KEDA.
The gRPC service calls the same decide() function.

  --scaledobject FILE.yaml  take the metadata, name and namespace from the (first) external trigger
                            of the ScaledObject in FILE; --metadata entries override it
  --metadata KEY=VALUE      a scalerMetadata entry (repeat the flag; env variables give defaults)
  --readings K=V[,K=V...]   readings, e.g. queueBacklog=12,ttftP95Seconds=2.1; a value "fail" is
                            a failed source, "fail:KIND" or "fail:KIND:message" one that failed in
                            that way (KIND: ${FAILURE_KINDS.join(", ")});
                            NaN, Infinity and negative values are passed on as read
  --file FILE.json          {"metadata": {...}, "readings": {...}, "at": "..."} or, for a timeline
                            that carries the policy's memory from poll to poll,
                            {"metadata": {...}, "polls": [{"at": "...", "readings": {...}}, ...]}
  --at ISO-8601             the instant (default: now), e.g. 2026-11-23T08:00:00+08:00
  --live                    read the signals from the configured sources (PROMETHEUS_URL, ...)
  --name NAME --namespace NS   the ScaledObject (default: the YAML's, with the namespace of a
                            kustomization.yaml beside it that lists it; else explain / default)
  --json                    print the Decision objects as JSON

Reading names: ${SIGNAL_KEYS.join(", ")}.
Exit status: 0 printed, 1 invalid configuration or input, 2 usage error.
`;

type Env = Readonly<Record<string, string | undefined>>;

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Input the user can fix: reported in one line, exit status 1. */
class InputError extends Error {}

interface Poll {
  readonly atMs: number;
  /** The instant as written, so the report shows the user's own offset. */
  readonly zone: string;
  readonly readings: SignalReadings | "live";
}

const KNOWN_KEYS: ReadonlySet<string> = new Set(SIGNAL_KEYS);

const KINDS: ReadonlySet<string> = new Set(FAILURE_KINDS);

/** "fail", "fail:KIND", "fail:KIND:message", or (as before kinds could be named) "fail:message". */
function failureFrom(key: SignalKey, raw: string): Reading {
  const [, kind = "", ...rest] = raw.split(":");
  const named = KINDS.has(kind);
  const message = (named ? rest.join(":") : raw.slice(5)) || "failed (explain input)";
  return failureOf(
    SIGNAL_TABLE[key].sources[0] ?? "prometheus",
    named ? (kind as FailureKind) : "unreachable",
    message,
  );
}

/**
 * A reading as given. Values are passed on as read, NaN and negative ones too: what the engine
 * makes of bad data (a failed reading, held) is part of what explain shows.
 */
function readingFrom(key: string, raw: unknown, atMs: number): Reading {
  if (!KNOWN_KEYS.has(key))
    throw new InputError(`unknown reading "${key}": use one of ${SIGNAL_KEYS.join(", ")}`);
  if (typeof raw === "string" && (raw === "fail" || raw.startsWith("fail:")))
    return failureFrom(key as SignalKey, raw);
  const text = typeof raw === "string" ? raw.trim() : undefined;
  const value =
    typeof raw === "number"
      ? raw
      : text !== undefined && /^[-+]?(\d|\.\d|Infinity$|NaN$)/.test(text)
        ? Number(text)
        : undefined;
  if (value === undefined || (Number.isNaN(value) && text !== "NaN"))
    throw new InputError(
      `reading ${key} must be a number, or "fail[:KIND[:message]]", got ${JSON.stringify(raw)}`,
    );
  return readingOf(value, atMs);
}

function readingsFrom(entries: Iterable<readonly [string, unknown]>, atMs: number): SignalReadings {
  const readings: Partial<Record<SignalKey, Reading>> = {};
  for (const [key, raw] of entries) readings[key as SignalKey] = readingFrom(key, raw, atMs);
  return readings;
}

function pairs(list: readonly string[], what: string, split: (item: string) => string[]): [string, string][] {
  return list.flatMap(split).map((pair) => {
    const at = pair.indexOf("=");
    if (at <= 0) throw new InputError(`${what} "${pair}" must be KEY=VALUE`);
    return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
  });
}

function instant(raw: string | undefined, nowMs: number): { atMs: number; zone: string } {
  if (raw === undefined) return { atMs: nowMs, zone: "UTC" };
  const parsed = DateTime.fromISO(raw, { setZone: true });
  if (!parsed.isValid)
    throw new InputError(`--at "${raw}" is not an ISO-8601 instant such as 2026-11-23T08:00:00+08:00`);
  return { atMs: parsed.toMillis(), zone: parsed.zoneName ?? "UTC" };
}

interface Scenario {
  readonly metadata: Record<string, string>;
  readonly polls: readonly Poll[];
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InputError(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

function stringMap(value: unknown, what: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [key, raw] of Object.entries(objectOf(value, what))) {
    if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean")
      throw new InputError(`${what}.${key} must be a string (KEDA passes metadata as strings)`);
    map[key] = String(raw);
  }
  return map;
}

function scenarioFromFile(file: string, nowMs: number): Scenario {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const root = objectOf(json, file);
  const metadata = root.metadata === undefined ? {} : stringMap(root.metadata, "metadata");
  const pollOf = (value: unknown, what: string): Poll => {
    const poll = objectOf(value, what);
    const when = instant(typeof poll.at === "string" ? poll.at : undefined, nowMs);
    const readings = poll.readings === undefined ? {} : objectOf(poll.readings, `${what}.readings`);
    return { ...when, readings: readingsFrom(Object.entries(readings), when.atMs) };
  };
  if (root.polls !== undefined) {
    if (!Array.isArray(root.polls) || root.polls.length === 0)
      throw new InputError(`${file}: "polls" must be a non-empty array`);
    return { metadata, polls: root.polls.map((p, i) => pollOf(p, `polls[${i}]`)) };
  }
  const isScenario = root.metadata !== undefined || root.readings !== undefined || root.at !== undefined;
  return { metadata, polls: [pollOf(isScenario ? root : { readings: root }, file)] };
}

function firstExternalTrigger(file: string): ExternalTrigger {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let triggers: ExternalTrigger[];
  try {
    triggers = externalTriggersIn(text);
  } catch (error) {
    throw new InputError(`${file}: ${(error as Error).message}`);
  }
  const first = triggers[0];
  if (!first) throw new InputError(`${file} has no ScaledObject with an external trigger`);
  return first;
}

const pad = (text: string, width: number) => text.padEnd(width);
const figure = (n: number | undefined) => (n === undefined ? "—" : String(round2(n)));

/** Whether the spec switches a signal on (then a "disabled" verdict means nothing could be read for it). */
function switchedOn(spec: ScalerSpec, signal: DemandSignal): boolean {
  switch (signal) {
    case "queue":
    case "ttft":
    case "kvCache":
    case "gpu":
    case "tokens":
      return spec[signal].enabled;
    case "concurrency":
      return true;
    case "e2e":
      return spec.e2eLatency.targetSeconds !== undefined;
    case "gpuMemory":
      return spec.gpuMemory.target !== undefined;
  }
}

/** A signal switched on but without a reading is not "disabled": nothing serves it. */
function statusLabel(verdict: SignalVerdict, spec: ScalerSpec): string {
  return verdict.status === "disabled" && switchedOn(spec, verdict.signal)
    ? "no source configured"
    : verdict.status;
}

/** With no rule fired, what set the answer when it was not the load: the floor or a bound. */
function raisedBy(decision: Decision): string {
  if (!decision.available) return "";
  switch (decision.drivingFactor) {
    case "floor":
      return ` (the warm floor of ${decision.floorReplicas} raised the answer)`;
    case "minReplicas":
      return " (minReplicas raised the answer)";
    case "maxReplicas":
      return " (maxReplicas capped the answer)";
    default:
      return "";
  }
}

/** The decision as a person reads it. */
export function renderDecision(decision: Decision, spec: ScalerSpec, zone: string): string {
  const when = DateTime.fromMillis(decision.atMs, { zone }).toISO() ?? String(decision.atMs);
  const lines = [
    `ScaledObject ${decision.scaledObject.namespace}/${decision.scaledObject.name} at ${when} (role ${decision.role}, mode ${decision.mode})`,
    "",
  ];
  if (!decision.available)
    lines.push("Answer: UNAVAILABLE to KEDA (its fallback replicas apply, if configured)");
  else
    lines.push(
      `Answer: ${decision.desiredReplicas} ${decision.role === "headroom" ? "placeholder(s)" : "replica(s)"} → GetMetrics ${decision.metricValue} (target 1), IsActive ${decision.active}`,
    );
  lines.push(`  ${decision.summary}`, "", "Signals (demand in replicas at 100 % utilisation):");
  // One column for every signal name, however long the longest ("concurrency") is, and for every status.
  const nameWidth = Math.max(8, ...decision.signals.map((verdict) => verdict.signal.length));
  const statuses = decision.signals.map((verdict) => statusLabel(verdict, spec));
  const statusWidth = Math.max(10, ...statuses.map((status) => status.length + 1));
  decision.signals.forEach((verdict, i) => {
    lines.push(
      `  ${pad(verdict.signal, nameWidth)} ${pad(statuses[i] ?? verdict.status, statusWidth)} ${pad(figure(verdict.demandReplicas), 7)} ${verdict.note}`,
    );
  });
  const replicas = [
    decision.currentReplicas !== undefined ? `current ${decision.currentReplicas}` : undefined,
    decision.readyReplicas !== undefined ? `ready ${decision.readyReplicas}` : undefined,
    decision.inFlightReplicas !== undefined ? `starting ${decision.inFlightReplicas}` : undefined,
  ].filter((part) => part !== undefined);
  lines.push(
    "",
    `Fused load ${figure(decision.loadReplicas)} ÷ ${spec.headroom.targetUtilisation} headroom, answer set by ${decision.drivingFactor}; warm floor ${decision.floorReplicas}${decision.floorReason ? ` (${decision.floorReason})` : ""}; min ${spec.target.minReplicas}, max ${spec.target.maxReplicas}`,
  );
  if (replicas.length > 0) lines.push(`Deployment replicas: ${replicas.join(", ")}`);
  if (decision.servingReplicas !== undefined) lines.push(`Serving side wants: ${decision.servingReplicas}`);
  lines.push(decision.rules.length === 0 ? `Rules fired: none${raisedBy(decision)}` : "Rules fired:");
  for (const rule of decision.rules) lines.push(`  - ${rule.rule}: ${rule.note}`);
  return `${lines.join("\n")}\n`;
}

async function liveReadings(spec: ScalerSpec, env: Env, nowMs: number): Promise<SignalReadings> {
  // Loaded only here: the Azure SDKs are heavy and explain usually runs on given readings.
  const [{ loadServiceConfig }, { createSignalSource }] = await Promise.all([
    import("../config/service-config.ts"),
    import("../sources/collect.ts"),
  ]);
  const source = createSignalSource(loadServiceConfig(env));
  try {
    return await source.read(spec, { nowMs });
  } finally {
    await source.close();
  }
}

export async function run(argv: string[], env: Env = process.env, io: Output = STDIO): Promise<number> {
  let args: ReturnType<typeof parseOptions>;
  try {
    args = parseOptions(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  try {
    const nowMs = Date.now();
    const scenario = args.file ? scenarioFromFile(args.file, nowMs) : { metadata: {}, polls: [] as Poll[] };
    const trigger = args.scaledobject ? firstExternalTrigger(args.scaledobject) : undefined;
    const metadata = {
      ...trigger?.metadata,
      ...scenario.metadata,
      ...Object.fromEntries(pairs(args.metadata, "--metadata", (m) => [m])),
    };
    let polls = scenario.polls;
    if (args.readings.length > 0 || args.live || args.at !== undefined || polls.length === 0) {
      if (polls.length > 1)
        throw new InputError(
          "--readings, --at and --live describe one poll: leave them out with a polls file",
        );
      const when = args.at !== undefined ? instant(args.at, nowMs) : (polls[0] ?? instant(undefined, nowMs));
      const given = pairs(args.readings, "--readings", (r) => r.split(","));
      const fromFile = polls[0]?.readings;
      const readings: SignalReadings | "live" = args.live
        ? "live"
        : { ...(fromFile === "live" ? {} : fromFile), ...readingsFrom(given, when.atMs) };
      polls = [{ atMs: when.atMs, zone: when.zone, readings }];
    }
    const identity = {
      name: args.name ?? trigger?.scaledObject.name ?? "explain",
      namespace:
        args.namespace ??
        (args.scaledobject ? kustomizeNamespaceOf(args.scaledobject) : undefined) ??
        trigger?.scaledObject.namespace ??
        "default",
    };
    const spec = parseScalerSpec(identity, metadata, env);
    const decider = new Decider();
    const decisions: { decision: Decision; zone: string }[] = [];
    for (const poll of polls) {
      const readings = poll.readings === "live" ? await liveReadings(spec, env, poll.atMs) : poll.readings;
      decisions.push({ decision: decider.decide("explain", spec, readings, poll.atMs), zone: poll.zone });
    }
    if (args.json) {
      const list = decisions.map((d) => d.decision);
      io.out(`${JSON.stringify(list.length === 1 ? list[0] : list, null, 2)}\n`);
    } else io.out(decisions.map((d) => renderDecision(d.decision, spec, d.zone)).join("\n"));
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`invalid configuration:\n${error.problems.map((p) => `  ✗ ${p.message}`).join("\n")}\n`);
      return 1;
    }
    if (error instanceof InputError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function parseOptions(argv: string[]) {
  // No positionals: with them allowed, node:util's error for an unknown flag suggests passing it
  // as a positional after "--", which explain does not take.
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      metadata: { type: "string", multiple: true, default: [] },
      readings: { type: "string", multiple: true, default: [] },
      file: { type: "string" },
      scaledobject: { type: "string" },
      at: { type: "string" },
      live: { type: "boolean", default: false },
      name: { type: "string" },
      namespace: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return {
    metadata: values.metadata ?? [],
    readings: values.readings ?? [],
    file: values.file,
    scaledobject: values.scaledobject,
    at: values.at,
    live: values.live ?? false,
    name: values.name,
    namespace: values.namespace,
    json: values.json ?? false,
    help: values.help ?? false,
  };
}
