import { afterEach, describe, expect, it, vi } from "vitest";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { LEAD_LADDER, PEAK_AHEAD_KEYS } from "../../src/readings/lead-time.ts";
import { SharedCache } from "../../src/sources/cache.ts";
import { planReadings } from "../../src/sources/plan.ts";

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("SharedCache", () => {
  it("runs one load for concurrent callers of a key, and one per key", async () => {
    const cache = new SharedCache<number>(1000);
    const pending = deferred<number>();
    let loads = 0;
    const load = () => {
      loads++;
      return pending.promise;
    };
    const answers = [cache.get("a", load), cache.get("a", load), cache.get("a", load)];
    void cache.get("b", () => Promise.resolve(2));
    pending.resolve(7);
    expect(await Promise.all(answers)).toEqual([7, 7, 7]);
    expect(loads).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2 });
  });

  it("answers from the cache; past the TTL it answers the old value at once and refreshes once, in the background", async () => {
    let now = 0;
    const cache = new SharedCache<number>(5000, () => now);
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get("k", load)).toBe(1);
    now = 4999;
    expect(await cache.get("k", load)).toBe(1);
    now = 5000;
    // Stale-while-revalidate: the caller gets 1 now; the refresh runs behind it.
    expect(await cache.get("k", load)).toBe(1);
    expect(await cache.get("k", load)).toBe(2);
    expect(loads).toBe(2);
  });

  it("never makes a caller wait on a hanging refresh once a key has an answer", async () => {
    let now = 0;
    const cache = new SharedCache<string>(1000, () => now);
    expect(await cache.get("k", async () => "first")).toBe("first");
    now = 2000;
    const hanging = deferred<string>();
    let refreshes = 0;
    const hang = () => {
      refreshes++;
      return hanging.promise;
    };
    const answers = await Promise.all([cache.get("k", hang), cache.get("k", hang), cache.get("k", hang)]);
    expect(answers).toEqual(["first", "first", "first"]);
    expect(refreshes).toBe(1);
    hanging.resolve("second");
    await hanging.promise;
    expect(await cache.get("k", hang)).toBe("second");
  });

  describe("on its own schedule", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("refreshes each key in the background every refresh period, with no caller waiting or asking", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<number>(5000, Date.now, 10_000, undefined, 0);
      let live = 0;
      let history = 0;
      expect(await cache.get("live", async () => ++live)).toBe(1);
      expect(await cache.get("history", async () => ++history, 60_000)).toBe(1);
      // Nobody asks for 20 s: the live key was refreshed four times, the history key not at all.
      await vi.advanceTimersByTimeAsync(20_000);
      expect({ live, history }).toEqual({ live: 5, history: 1 });
      // The caller gets the latest background answer at once, without a load of its own.
      expect(await cache.get("live", async () => ++live)).toBe(5);
      await vi.advanceTimersByTimeAsync(40_000);
      expect(history).toBe(2);
      expect(cache.stats()).toMatchObject({ misses: 2, hits: 1 });
    });

    it("spreads the first refreshes of keys loaded together over the second half of the period", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<number>(10_000);
      const loads = new Map<string, number>();
      const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
      const loadOf = (key: string) => async () => {
        loads.set(key, (loads.get(key) ?? 0) + 1);
        return 0;
      };
      await Promise.all(keys.map((key) => cache.get(key, loadOf(key))));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(keys.filter((key) => loads.get(key) === 2)).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(2_501);
      const early = keys.filter((key) => loads.get(key) === 2).length;
      expect(early).toBeGreaterThan(0);
      expect(early).toBeLessThan(100);
      await vi.advanceTimersByTimeAsync(2_500);
      expect(keys.every((key) => loads.get(key) === 2)).toBe(true);
      // From then on each keeps its own phase, a period (less a tenth at most) apart.
      await vi.advanceTimersByTimeAsync(4_000);
      expect(keys.every((key) => loads.get(key) === 2)).toBe(true);
    });

    it("tries a key that never had a usable answer again after 1 s, 2 s, 4 s…, then keeps to its period", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<{ ok: boolean }>(30_000, Date.now, 100, undefined, 0, (a) => !a.ok);
      let attempts = 0;
      const load = async () => ({ ok: ++attempts >= 4 });
      expect(await cache.get("k", load)).toEqual({ ok: false });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(attempts).toBe(2);
      await vi.advanceTimersByTimeAsync(1_999);
      expect(attempts).toBe(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toBe(3);
      await vi.advanceTimersByTimeAsync(4_000);
      expect(attempts).toBe(4);
      expect(await cache.get("k", load)).toEqual({ ok: true });
      await vi.advanceTimersByTimeAsync(29_999);
      expect(attempts).toBe(4);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toBe(5);
    });

    it("makes a caller wait for the retry under way while a key has no usable answer, and only then", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<{ ok: boolean; n: number }>(
        30_000,
        Date.now,
        100,
        undefined,
        0,
        (a) => !a.ok,
      );
      let attempts = 0;
      let retry = deferred<{ ok: boolean; n: number }>();
      const load = () => {
        attempts++;
        return attempts === 1 ? Promise.resolve({ ok: false, n: 1 }) : retry.promise;
      };
      expect(await cache.get("k", load)).toEqual({ ok: false, n: 1 });
      // Between attempts the failure is the answer, at once: no upstream request per caller.
      expect(await cache.get("k", load)).toEqual({ ok: false, n: 1 });
      expect(attempts).toBe(1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(attempts).toBe(2);
      // The retry is under way: this caller gets its answer, not the first failure again.
      const waiting = cache.get("k", load);
      retry.resolve({ ok: true, n: 2 });
      expect(await waiting).toEqual({ ok: true, n: 2 });
      // Usable from then on: a refresh under way never makes a caller wait.
      retry = deferred();
      await vi.advanceTimersByTimeAsync(30_000);
      expect(attempts).toBe(3);
      expect(await cache.get("k", load)).toEqual({ ok: true, n: 2 });
      retry.resolve({ ok: true, n: 3 });
    });

    it("stops refreshing, and forgets, a key nobody asked for within idleMs", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<number>(1000, Date.now, 100, 10_000, 0);
      let loads = 0;
      await cache.get("k", async () => ++loads);
      await vi.advanceTimersByTimeAsync(30_000);
      // Refreshed while it had been asked for within 10 s, then dropped at the next refresh.
      expect(loads).toBe(10);
      expect(cache.stats().size).toBe(0);
    });

    it("keeps the last answer when a refresh fails, and tries again on schedule", async () => {
      vi.useFakeTimers();
      const cache = new SharedCache<string>(1000, Date.now, 10_000, undefined, 0);
      let attempt = 0;
      const load = async () => {
        attempt++;
        if (attempt === 2) throw new Error("upstream gone");
        return `answer ${attempt}`;
      };
      expect(await cache.get("k", load)).toBe("answer 1");
      await vi.advanceTimersByTimeAsync(1000);
      expect(await cache.get("k", load)).toBe("answer 1");
      await vi.advanceTimersByTimeAsync(1000);
      expect(await cache.get("k", load)).toBe("answer 3");
    });
  });

  it("drops keys nobody asked for within idleMs (they are not refreshed meanwhile)", async () => {
    let now = 0;
    const cache = new SharedCache<number>(1000, () => now, 10_000, 60_000);
    await cache.get("old", async () => 1);
    now = 30_000;
    await cache.get("recent", async () => 2);
    now = 61_000;
    await cache.get("new", async () => 3);
    expect(cache.stats().size).toBe(2);
    let reloaded = 0;
    expect(await cache.get("old", async () => ++reloaded + 10)).toBe(11);
  });

  it("with TTL 0 still joins an in-flight load but keeps nothing afterwards", async () => {
    const cache = new SharedCache<number>(0);
    const pending = deferred<number>();
    let loads = 0;
    const first = cache.get("k", () => {
      loads++;
      return pending.promise;
    });
    const second = cache.get("k", async () => ++loads);
    pending.resolve(1);
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(await cache.get("k", async () => ++loads)).toBe(2);
  });

  it("does not keep a load that threw", async () => {
    const cache = new SharedCache<number>(60_000);
    await expect(cache.get("k", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await cache.get("k", async () => 3)).toBe(3);
  });

  it("stays within its size bound", async () => {
    const cache = new SharedCache<number>(60_000, Date.now, 100);
    for (let i = 0; i < 1000; i++) await cache.get(`k${i}`, async () => i);
    expect(cache.stats().size).toBeLessThanOrEqual(100);
  });
});

describe("which readings a ScaledObject gets", () => {
  const none = { prometheus: false, serviceBus: { configured: false }, azureMonitor: { configured: false } };
  const all = { prometheus: true, serviceBus: { configured: true }, azureMonitor: { configured: true } };
  const spec = (metadata: Record<string, string> = {}) =>
    parseScalerSpec({ name: "llama", namespace: "team-a" }, metadata, {});

  it("leaves a signal absent when another source serves the ScaledObject", () => {
    const plan = planReadings(spec({ serviceBusQueue: "q" }), { ...none, serviceBus: { configured: true } });
    expect([...plan.keys()]).toEqual(["queueBacklog"]);
  });

  it("fails the primary signal, listing the ways to configure one, when nothing can be read at all", () => {
    const plan = planReadings(spec(), none);
    expect([...plan.keys()]).toEqual(["queueBacklog"]);
    const task = plan.get("queueBacklog");
    expect(task?.source === "failure" && task.reading.failure).toMatchObject({
      kind: "not_configured",
      message: expect.stringMatching(
        /PROMETHEUS_URL.*SERVICEBUS_CONNECTION_STRING.*AZURE_MONITOR_METRICS_ENDPOINT/,
      ),
    });
    expect([...planReadings(spec({ queueEnabled: "false" }), none).keys()]).toEqual(["ttftP95Seconds"]);
    // Every signal switched off (a floor-only ScaledObject): nothing to read, nothing failed.
    const floorOnly = spec({
      queueEnabled: "false",
      ttftEnabled: "false",
      kvCacheEnabled: "false",
      gpuEnabled: "false",
      tokensEnabled: "false",
    });
    expect(planReadings(floorOnly, none).size).toBe(0);
  });

  it("reads the switched-on Prometheus signals plus running requests and replicas", () => {
    expect([...planReadings(spec(), all).keys()].sort()).toEqual(
      [
        "vllmWaiting",
        "vllmRunning",
        "ttftP95Seconds",
        "ttftRequestsPerSecond",
        "kvCacheUsage",
        "gpuUtilisation",
        "tokensPerSecondPerPod",
        "replicasDesired",
        "replicasReady",
        "replicasUnavailable",
        // The forecast's history of the inflow, a day and a week ago, its peak over every window
        // of the lead-time ladder, and the lead time measured from kube-state-metrics.
        "inflowDayAgo",
        "inflowWeekAgo",
        ...LEAD_LADDER.flatMap((f) => [PEAK_AHEAD_KEYS.day[f], PEAK_AHEAD_KEYS.week[f]]),
        "leadTimeObserved",
        "leadTimePods",
      ].sort(),
    );
    const off = spec({
      queueEnabled: "false",
      ttftEnabled: "false",
      kvCacheEnabled: "false",
      gpuEnabled: "false",
      tokensEnabled: "false",
    });
    expect([...planReadings(off, all).keys()].sort()).toEqual(
      ["vllmRunning", "replicasDesired", "replicasReady", "replicasUnavailable"].sort(),
    );
  });

  it("fails, naming the setting, what the ScaledObject asked for but the process cannot serve", () => {
    const plan = planReadings(
      spec({
        serviceBusQueue: "q",
        gpuSource: "azureMonitor",
        azureMonitorResourceIds: "/subscriptions/x/y",
        waitingQuery: 'sum(m{namespace="team-a"})',
      }),
      {
        prometheus: false,
        serviceBus: { configured: false, problem: "set env SERVICEBUS_CONNECTION_STRING" },
        azureMonitor: { configured: false, problem: "set env AZURE_MONITOR_METRICS_ENDPOINT" },
      },
    );
    const failures = Object.fromEntries(
      [...plan].map(([key, task]) => [
        key,
        task.source === "failure" ? task.reading.failure.message : task.source,
      ]),
    );
    expect(failures).toEqual({
      // Each names what the ScaledObject asked for, then what the process lacks, as one sentence.
      queueBacklog:
        "scalerMetadata names a Service Bus entity, but Service Bus is off: set env SERVICEBUS_CONNECTION_STRING",
      gpuUtilisation:
        "gpuSource=azureMonitor, but Azure Monitor is off: set env AZURE_MONITOR_METRICS_ENDPOINT",
      vllmWaiting: expect.stringContaining("PROMETHEUS_URL"),
    });
  });

  it("takes the backlog from Service Bus only while the queue signal is switched on", () => {
    expect(planReadings(spec({ serviceBusQueue: "q" }), all).get("queueBacklog")).toMatchObject({
      source: "serviceBus",
      entity: { queue: "q" },
    });
    expect(planReadings(spec({ serviceBusQueue: "q", queueEnabled: "false" }), all).has("queueBacklog")).toBe(
      false,
    );
  });
});
