import type { CapacityMemory } from "../policy/capacity.ts";
import type { InflowSample } from "../policy/forecast.ts";
import type { LastGoodReadings, PolicyMemory } from "../policy/memory.ts";
import type { RecentAnswer } from "../policy/scale-down-delay.ts";
import type { Smoothed, SmoothedReadings } from "../policy/smoothing.ts";
import { type InstantaneousGaugeKey, SIGNAL_KEYS, signalKeysWhere } from "../readings/signal-table.ts";

/**
 * Every key present (absent ones as undefined) and writable: one object shape for the record's
 * life. (Mapped over `keyof T & string`, so that the optional and readonly modifiers are not copied.)
 */
type Slots<T> = { [K in keyof T & string]: T[K] | undefined };
type Writable<T> = { -readonly [K in keyof T]: T[K] };

const SMOOTHED_KEYS = signalKeysWhere((a) => a.instantaneousGauge) as readonly InstantaneousGaugeKey[];

/**
 * One policy memory, held in objects made once and overwritten by every copy.
 *
 * Why: decide() is pure, so every decision hands back a new memory tree (its object, the
 * last-good and smoothed records, the learned capacity, the boxes of their instants: ~550 bytes
 * at a vLLM fleet's readings). It lives until the ScaledObject's next poll, seconds later, so a
 * young-generation collection copies it and the next moves it to the old generation, on the
 * thread that answers KEDA; at thousands of ScaledObjects that is most of what a poll leaves
 * there, and what brings the old generation's full collections (docs/reliability.md). Copied
 * into objects that are already old, the decision's own tree dies young, where it costs nothing.
 *
 * `memory` is read as any PolicyMemory: an absent field is present as undefined, which decide()
 * and the peers' JSON read as absent. The last-good readings are the source's own objects,
 * referred to, never written (the source cache shares them between ScaledObjects).
 */
export class MemoryRecord {
  // Every field named: a field PolicyMemory gains fails to compile here, the reminder that copy()
  // must write it too (the type does not check copy() itself).
  readonly memory: Slots<PolicyMemory> = {
    lastGood: undefined,
    lastDesired: undefined,
    lastSignalAtMs: undefined,
    recent: undefined,
    smoothed: undefined,
    capacity: undefined,
    inflowRecent: undefined,
    inflowRisingSinceMs: undefined,
  };

  // Made at the first copy that needs them, then kept for every later one.
  private lastGood: Writable<LastGoodReadings> | undefined;
  private smoothed: Slots<SmoothedReadings> | undefined;
  private readonly smoothedSlots: Partial<Record<InstantaneousGaugeKey, Writable<Smoothed>>> = {};
  private capacity: Slots<CapacityMemory> | undefined;
  private mix: Writable<NonNullable<CapacityMemory["mix"]>> | undefined;
  private recent: RecycledList<RecentAnswer> | undefined;
  private inflowRecent: RecycledList<InflowSample> | undefined;

  /** Makes `memory` equal to `from`, writing into this record's own objects. */
  copy(from: PolicyMemory): void {
    const to = this.memory;
    to.lastGood = from.lastGood && this.copyLastGood(from.lastGood);
    to.lastDesired = from.lastDesired;
    to.lastSignalAtMs = from.lastSignalAtMs;
    to.recent = from.recent && this.copyRecent(from.recent);
    to.smoothed = from.smoothed && this.copySmoothed(from.smoothed);
    to.capacity = from.capacity && this.copyCapacity(from.capacity);
    to.inflowRecent = from.inflowRecent && this.copyInflowRecent(from.inflowRecent);
    to.inflowRisingSinceMs = from.inflowRisingSinceMs;
  }

  /**
   * The record's last-good object gains a key the first time a memory has it and keeps it after
   * (undefined while absent): one shape once the fleet's signals have been seen, and no room for
   * the signals a ScaledObject never reads.
   */
  private copyLastGood(from: LastGoodReadings): LastGoodReadings {
    const to: Writable<LastGoodReadings> = this.lastGood ?? {};
    this.lastGood = to;
    for (const key of SIGNAL_KEYS) {
      const reading = from[key];
      if (reading !== undefined || key in to) to[key] = reading;
    }
    return to;
  }

  private copyRecent(from: readonly RecentAnswer[]): readonly RecentAnswer[] {
    const list = this.recent ?? new RecycledList(copyRecentAnswer);
    this.recent = list;
    return list.copy(from);
  }

  private copyInflowRecent(from: readonly InflowSample[]): readonly InflowSample[] {
    const list = this.inflowRecent ?? new RecycledList(copyInflowSample);
    this.inflowRecent = list;
    return list.copy(from);
  }

  private copySmoothed(from: SmoothedReadings): SmoothedReadings {
    const to =
      this.smoothed ??
      (Object.fromEntries(SMOOTHED_KEYS.map((key) => [key, undefined])) as Slots<SmoothedReadings>);
    this.smoothed = to;
    for (const key of SMOOTHED_KEYS) {
      const average = from[key];
      if (!average) {
        to[key] = undefined;
        continue;
      }
      const slot = this.smoothedSlots[key] ?? { value: average.value, atMs: average.atMs };
      slot.value = average.value;
      slot.atMs = average.atMs;
      this.smoothedSlots[key] = slot;
      to[key] = slot;
    }
    return to;
  }

  private copyCapacity(from: CapacityMemory): CapacityMemory {
    const to = this.capacity ?? {
      mixPerReplica: undefined,
      mixAtMs: undefined,
      mix: undefined,
      factor: from.factor,
      atMs: from.atMs,
      samples: from.samples,
      saturatedSinceMs: undefined,
      saturatedReady: undefined,
    };
    this.capacity = to;
    to.mixPerReplica = from.mixPerReplica;
    to.mixAtMs = from.mixAtMs;
    if (from.mix) {
      const mix = this.mix ?? { prompt: from.mix.prompt, generated: from.mix.generated };
      mix.prompt = from.mix.prompt;
      mix.generated = from.mix.generated;
      this.mix = mix;
      to.mix = mix;
    } else {
      to.mix = undefined;
    }
    to.factor = from.factor;
    to.atMs = from.atMs;
    to.samples = from.samples;
    to.saturatedSinceMs = from.saturatedSinceMs;
    to.saturatedReady = from.saturatedReady;
    return to as CapacityMemory;
  }
}

/** A list whose items are objects kept from copy to copy: it makes one only when it grows. */
class RecycledList<T extends object> {
  private readonly items: Writable<T>[] = [];
  private readonly pool: Writable<T>[] = [];
  private readonly copyItem: (from: T, into: Writable<T> | undefined) => Writable<T>;

  constructor(copyItem: (from: T, into: Writable<T> | undefined) => Writable<T>) {
    this.copyItem = copyItem;
  }

  copy(from: readonly T[]): readonly T[] {
    for (let i = 0; i < from.length; i++) {
      const item = this.copyItem(from[i] as T, this.pool[i]);
      this.pool[i] = item;
      this.items[i] = item;
    }
    this.items.length = from.length;
    return this.items;
  }
}

function copyRecentAnswer(
  from: RecentAnswer,
  into: Writable<RecentAnswer> | undefined,
): Writable<RecentAnswer> {
  if (!into) return { atMs: from.atMs, desired: from.desired };
  into.atMs = from.atMs;
  into.desired = from.desired;
  return into;
}

function copyInflowSample(
  from: InflowSample,
  into: Writable<InflowSample> | undefined,
): Writable<InflowSample> {
  if (!into) return { atMs: from.atMs, inflow: from.inflow };
  into.atMs = from.atMs;
  into.inflow = from.inflow;
  return into;
}
