import { z } from "zod";
import type { PolicyMemory } from "../../policy/memory.ts";
import {
  type InstantaneousGaugeKey,
  SIGNAL_KEYS,
  type SignalKey,
  signalKeysWhere,
} from "../../readings/signal-table.ts";

/**
 * A policy memory as it travels between replicas. A last good reading goes without its `ok`
 * (always true there): the memory keeps the source's own reading, but earlier versions, whose
 * schema is strict, expect `{value, observedAtMs}`, and a replica refuses a whole batch for one
 * unknown field, so during a rolling upgrade no memory would be shared either way.
 */
export function memoryJsonOf(memory: PolicyMemory): string {
  return JSON.stringify(memory, withoutOk);
}

/** JSON.stringify's replacer for a memory: leaves out the last good readings' `ok` (PolicyMemory has no other). */
function withoutOk(key: string, value: unknown): unknown {
  return key === "ok" ? undefined : value;
}

/**
 * A memory's JSON as memoryJsonOf writes it, with every object's keys in sorted order, absent and undefined fields alike
 * left out: the same text for the same memory whatever order its objects were built in (a
 * record's last-good object gains keys in the order its memories brought them). For comparing
 * memories, never sent.
 */
export function canonicalMemoryJsonOf(memory: PolicyMemory): string {
  return JSON.stringify(memory, (key, value: unknown) => {
    const kept = withoutOk(key, value);
    if (kept === null || typeof kept !== "object" || Array.isArray(kept)) return kept;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(kept).sort()) sorted[name] = (kept as Record<string, unknown>)[name];
    return sorted;
  });
}

/** One ScaledObject's memory as it travels between replicas. */
export interface MemoryEntryMessage {
  key: string;
  decidedAtMs: number;
  memoryJson: string;
}

/**
 * The largest memory one ScaledObject may send. The policy's own bounds keep it far below (the
 * scale-down window keeps at most 512 answers, ~20 KB of JSON; the rest is a few hundred bytes).
 */
export const MAX_MEMORY_JSON_CHARACTERS = 48 * 1024;

/** Entries per Push and per Snapshot page; with the per-entry bound, a message stays under 256 KiB. */
export const MAX_ENTRIES_PER_MESSAGE = 64;
/** Characters of memory JSON per message, so a batch fits GRPC_MAX_MESSAGE_BYTES' default (256 KiB). */
export const MAX_MESSAGE_CHARACTERS = 160 * 1024;

/**
 * How far ahead of this replica's clock a peer's decision may be stamped. Node clocks agree to
 * milliseconds under NTP; a memory from further in the future would win every merge until then.
 */
export const MAX_CLOCK_AHEAD_MS = 60_000;

/** The decision book's keys are base64url SHA-256 digests: 43 characters. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const finite = z.number().finite();
const instant = finite.nonnegative();
// Sent without `ok` (memoryJsonOf), as earlier versions sent it too: read back as the good reading it was.
const lastGood = z
  .object({ ok: z.literal(true).default(true), value: finite, observedAtMs: instant })
  .strict();
const smoothed = z.object({ value: finite, atMs: instant }).strict();
const smoothedKeys = signalKeysWhere((a) => a.instantaneousGauge) as readonly InstantaneousGaugeKey[];

/**
 * What a replica accepts as policy memory from a peer: exactly the shape of PolicyMemory, finite
 * numbers, bounded arrays. A peer runs the same code, so anything else is a bug or an attack, and
 * is refused before it can reach a decision.
 */
const policyMemorySchema = z
  .object({
    lastGood: z
      .partialRecord(z.enum(SIGNAL_KEYS as unknown as [SignalKey, ...SignalKey[]]), lastGood)
      .optional(),
    lastDesired: finite.nonnegative().optional(),
    lastSignalAtMs: instant.optional(),
    recent: z
      .array(z.object({ atMs: instant, desired: finite.nonnegative() }).strict())
      .max(1024)
      .readonly()
      .optional(),
    smoothed: z
      .partialRecord(
        z.enum(smoothedKeys as unknown as [InstantaneousGaugeKey, ...InstantaneousGaugeKey[]]),
        smoothed,
      )
      .optional(),
    capacity: z
      .object({
        mixPerReplica: finite.positive().optional(),
        mixAtMs: instant.optional(),
        mix: z.object({ prompt: finite.nonnegative(), generated: finite.nonnegative() }).strict().optional(),
        factor: finite.positive(),
        atMs: instant,
        samples: finite.nonnegative(),
        saturatedSinceMs: instant.optional(),
        saturatedReady: finite.positive().optional(),
      })
      .strict()
      .optional(),
    inflowRecent: z
      .array(z.object({ atMs: instant, inflow: finite.nonnegative() }).strict())
      .max(1024)
      .readonly()
      .optional(),
    inflowRisingSinceMs: instant.optional(),
  })
  .strict();

// Fails to compile when PolicyMemory gains a field the schema does not know (or the reverse).
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesPolicyMemory: Exact<
  Required<z.infer<typeof policyMemorySchema>>,
  Required<PolicyMemory>
> = true;
void schemaMatchesPolicyMemory;

export class PeerMessageError extends Error {}

export interface ValidEntry {
  readonly key: string;
  readonly decidedAtMs: number;
  readonly memory: PolicyMemory;
  readonly json: string;
}

/** Checks one received entry; throws PeerMessageError with a short reason naming the field. */
export function validEntry(
  entry: Partial<MemoryEntryMessage> | null | undefined,
  index: number,
  nowMs: number,
): ValidEntry {
  const where = `entries[${index}]`;
  const key = entry?.key ?? "";
  if (!KEY_PATTERN.test(key)) throw new PeerMessageError(`${where}.key is not a decision-book key`);
  const decidedAtMs = entry?.decidedAtMs;
  if (typeof decidedAtMs !== "number" || !Number.isFinite(decidedAtMs) || decidedAtMs <= 0)
    throw new PeerMessageError(`${where}.decidedAtMs is not a positive instant`);
  if (decidedAtMs > nowMs + MAX_CLOCK_AHEAD_MS)
    throw new PeerMessageError(
      `${where}.decidedAtMs is ${Math.round((decidedAtMs - nowMs) / 1000)} s ahead of this replica's clock`,
    );
  const json = entry?.memoryJson ?? "";
  if (json.length > MAX_MEMORY_JSON_CHARACTERS)
    throw new PeerMessageError(
      `${where}.memoryJson is ${json.length} characters, more than ${MAX_MEMORY_JSON_CHARACTERS}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new PeerMessageError(`${where}.memoryJson is not JSON`);
  }
  const checked = policyMemorySchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new PeerMessageError(
      `${where}.memoryJson is not a policy memory: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}`.slice(0, 200) : "invalid"}`,
    );
  }
  return { key, decidedAtMs, memory: checked.data as PolicyMemory, json };
}

/** Checks a whole message: every entry, or none (a batch is one peer's decisions, all of one version). */
export function validEntries(
  entries: readonly (Partial<MemoryEntryMessage> | null)[] | undefined,
  nowMs: number,
): ValidEntry[] {
  const list = entries ?? [];
  if (list.length > MAX_ENTRIES_PER_MESSAGE)
    throw new PeerMessageError(`${list.length} entries in one message, more than ${MAX_ENTRIES_PER_MESSAGE}`);
  return list.map((entry, index) => validEntry(entry, index, nowMs));
}
