import { describe, expect, it } from "vitest";
import { averageValueProposal } from "../../src/policy/hpa.ts";
import { ScaleController, type ScalingSetup } from "../../src/sim/autoscaler.ts";
import {
  behaviorNormalize,
  DEFAULT_HPA_BEHAVIOR,
  type HpaBehavior,
  legacyNormalize,
  type PodSample,
  podMetricProposal,
  scaleDownLimit,
  scaleUpLimit,
  stabilizedRecommendation,
} from "../../src/sim/hpa.ts";

const noHistory = { recommendations: [], scaleUpEvents: [], scaleDownEvents: [] };

describe("HPA arithmetic (the HPA algorithm's worked examples)", () => {
  it("stays at 10 when asked for 11 or 9: the inclusive 10 % band", () => {
    expect(averageValueProposal(10, 11, 1)).toBe(10);
    expect(averageValueProposal(10, 9, 1)).toBe(10);
    expect(averageValueProposal(10, 12, 1)).toBe(12);
    expect(averageValueProposal(10, 8, 1)).toBe(8);
    expect(averageValueProposal(20, 22, 1)).toBe(20);
    expect(averageValueProposal(20, 23, 1)).toBe(23);
  });

  it("proposes ceil(U / T) for a queue: 23 messages at messageCount 5 → 5 replicas", () => {
    expect(averageValueProposal(1, 23, 5)).toBe(5);
    expect(averageValueProposal(3, 0, 5)).toBe(0);
  });

  it("without behaviour, caps a scale-up at max(2·C, 4): 1 → 4, then 4 → 7", () => {
    expect(legacyNormalize(1, [{ atMs: 0, replicas: 7 }], 0, 1, 8)).toBe(4);
    expect(legacyNormalize(4, [{ atMs: 15_000, replicas: 7 }], 15_000, 1, 8)).toBe(7);
  });

  it("without behaviour, keeps the highest recommendation of the last 5 minutes", () => {
    const recs = [
      { atMs: 0, replicas: 10 },
      { atMs: 60_000, replicas: 8 },
    ];
    expect(legacyNormalize(10, recs, 60_000, 1, 20)).toBe(10);
    expect(legacyNormalize(10, [...recs, { atMs: 301_000, replicas: 8 }], 301_000, 1, 20)).toBe(8);
  });

  it("with the default behaviour, 3 → 7 in one step (+4 pods per 15 s)", () => {
    expect(
      behaviorNormalize(
        3,
        7,
        { ...noHistory, recommendations: [{ atMs: 0, replicas: 7 }] },
        0,
        1,
        8,
        DEFAULT_HPA_BEHAVIOR,
      ),
    ).toBe(7);
    // +100 % wins above 4 replicas: 6 → 12.
    expect(scaleUpLimit(6, [], DEFAULT_HPA_BEHAVIOR.scaleUp, 0)).toBe(12);
    // Replicas added within the period count against it.
    expect(scaleUpLimit(7, [{ atMs: 0, replicas: 4 }], DEFAULT_HPA_BEHAVIOR.scaleUp, 10_000)).toBe(7);
  });

  it("an asymmetric behaviour's scale-down: one pod per 120 s after a 600 s window", () => {
    const behavior: HpaBehavior = {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: "Max",
        policies: [{ type: "Pods", value: 2, periodSeconds: 30 }],
      },
      scaleDown: {
        stabilizationWindowSeconds: 600,
        selectPolicy: "Max",
        policies: [{ type: "Pods", value: 1, periodSeconds: 120 }],
      },
    };
    const recommendations = [
      { atMs: 0, replicas: 8 },
      { atMs: 300_000, replicas: 2 },
    ];
    expect(stabilizedRecommendation(8, 2, recommendations, 300_000, behavior)).toBe(8);
    expect(
      stabilizedRecommendation(
        8,
        2,
        [...recommendations, { atMs: 601_000, replicas: 2 }].slice(1),
        601_000,
        behavior,
      ),
    ).toBe(2);
    expect(scaleDownLimit(8, [], behavior.scaleDown, 601_000)).toBe(7);
    expect(scaleDownLimit(7, [{ atMs: 601_000, replicas: 1 }], behavior.scaleDown, 660_000)).toBe(7);
    expect(scaleUpLimit(2, [], behavior.scaleUp, 0)).toBe(4);
  });

  it("a Pods metric (GPU utilisation per pod) follows calcPlainMetricReplicas and groupPods", () => {
    const running = (value: number): PodSample => ({ phase: "Running", deleting: false, value });
    const pending: PodSample = { phase: "Pending", deleting: false };
    const missing: PodSample = { phase: "Running", deleting: false };
    // 2 pods at 100 % against 80 %: ratio 1.25 → 3 replicas.
    expect(podMetricProposal(2, [running(1), running(1)], 0.8)).toBe(3);
    // 2 Pending pods count at 0 on a scale-up: (2 × 100 %) / (4 × 80 %) = 0.625 flips the
    // direction, so the count stands.
    expect(podMetricProposal(4, [running(1), running(1), pending, pending], 0.8)).toBe(4);
    // Pods running but still loading report 0 % and count like any other (only a CPU resource
    // metric looks at readiness): (2 × 100 %) / 4 = 50 % against 80 % → ceil(0.625 × 4) = 3.
    expect(podMetricProposal(4, [running(1), running(1), running(0), running(0)], 0.8)).toBe(3);
    // On a scale-down, pods without a sample count at the target: (0.4 + 2 × 0.8) / 4 = 0.5 →
    // ceil(0.625 × 4) = 3, where ignoring them would have proposed 1.
    expect(podMetricProposal(4, [running(0.2), running(0.2), missing, missing], 0.8)).toBe(3);
    // On a scale-up they count at 0: (2 × 1.2) / 3 = 0.8 against 0.8 is within the tolerance.
    expect(podMetricProposal(3, [running(1.2), running(1.2), missing], 0.8)).toBe(3);
    // Draining pods are ignored; inside the tolerance nothing moves; below it, ceil(ratio × pods).
    expect(podMetricProposal(3, [running(0.8), running(0.8), { ...running(0), deleting: true }], 0.8)).toBe(
      3,
    );
    expect(podMetricProposal(4, [running(0.85), running(0.85), running(0.85), running(0.85)], 0.8)).toBe(4);
    expect(podMetricProposal(4, [running(0.3), running(0.3), running(0.3), running(0.3)], 0.8)).toBe(2);
    // No pods, or no sample from any counted pod: the metric is invalid.
    expect(podMetricProposal(1, [], 0.8)).toBeUndefined();
    expect(podMetricProposal(2, [pending, missing], 0.8)).toBeUndefined();
  });
});

describe("the simulated KEDA + HPA loop", () => {
  function setup(
    value: () => number,
    active: () => boolean,
    overrides: Partial<ScalingSetup> = {},
  ): ScalingSetup {
    return {
      maxReplicas: 8,
      minReplicasAt: () => 0,
      keda: { pollingIntervalMs: 30_000, cooldownMs: 300_000 },
      hpa: { syncPeriodMs: 15_000, tolerance: 0.1 },
      triggers: [
        {
          name: "t",
          evaluate: () => ({ metric: { kind: "averageValue", value: value(), target: 1 }, active: active() }),
        },
      ],
      ...overrides,
    };
  }

  it("activates 0 → 1 on the polling loop, then the HPA takes it on", () => {
    const controller = new ScaleController(
      setup(
        () => 6,
        () => true,
      ),
      0,
      0,
    );
    controller.step(15_000);
    expect(controller.replicas).toBe(0); // the HPA does nothing at 0 and KEDA has not polled
    controller.step(30_000);
    // KEDA set 1, then the HPA's sync at the same instant proposes 6, capped at max(2·1, 4) = 4.
    expect(controller.replicas).toBe(4);
    controller.step(45_000);
    expect(controller.replicas).toBe(6);
  });

  it("scales to zero only after the cooldown with every trigger inactive", () => {
    let active = true;
    const controller = new ScaleController(
      setup(
        () => (active ? 2 : 0),
        () => active,
      ),
      2,
      0,
    );
    controller.step(0);
    active = false;
    for (let t = 15_000; t < 300_000; t += 15_000) controller.step(t);
    expect(controller.replicas).toBeGreaterThan(0);
    controller.step(300_000);
    expect(controller.replicas).toBe(0);
  });

  it("does not scale down while a metric is in error, but may scale up", () => {
    let failing = false;
    let value = 4;
    const controller = new ScaleController(
      {
        ...setup(
          () => value,
          () => true,
        ),
        triggers: [
          {
            name: "ok",
            evaluate: () => ({ metric: { kind: "averageValue", value, target: 1 }, active: true }),
          },
          {
            name: "flaky",
            evaluate: () =>
              failing
                ? { error: "down", active: false }
                : { metric: { kind: "averageValue", value: 0, target: 1 }, active: false },
          },
        ],
      },
      4,
      0,
    );
    failing = true;
    value = 1;
    for (let t = 15_000; t <= 900_000; t += 15_000) controller.step(t);
    expect(controller.replicas).toBe(4);
    value = 8;
    controller.step(915_000);
    expect(controller.replicas).toBe(8);
  });

  function flakyTrigger(failing: () => boolean, value: () => number) {
    return {
      name: "external",
      evaluate: () =>
        failing()
          ? { error: "scaler unavailable", active: false }
          : { metric: { kind: "averageValue" as const, value: value(), target: 1 }, active: value() > 0 },
    };
  }

  it("counts a fallback failure on both the polling loop and the HPA's metric request", () => {
    let failing = false;
    const controller = new ScaleController(
      {
        maxReplicas: 8,
        minReplicasAt: () => 0,
        keda: {
          pollingIntervalMs: 15_000,
          cooldownMs: 300_000,
          fallback: { failureThreshold: 3, replicas: 3 },
        },
        hpa: { syncPeriodMs: 15_000, tolerance: 0.1 },
        triggers: [
          flakyTrigger(
            () => failing,
            () => 1,
          ),
        ],
      },
      1,
      0,
    );
    controller.step(0);
    expect(controller.replicas).toBe(1);
    failing = true;
    // Failures 1 (poll) and 2 (HPA) at 15 s; 3 and 4 at 30 s: the HPA's read at 30 s is past the
    // threshold of 3 and gets the fallback. Counting polls alone, it would take until 60 s.
    controller.step(15_000);
    expect(controller.replicas).toBe(1);
    controller.step(30_000);
    expect(controller.replicas).toBe(3);
  });

  it("resets the failure count on any good read", () => {
    let failing = true;
    const controller = new ScaleController(
      {
        maxReplicas: 8,
        minReplicasAt: () => 0,
        keda: {
          pollingIntervalMs: 15_000,
          cooldownMs: 300_000,
          fallback: { failureThreshold: 3, replicas: 3 },
        },
        hpa: { syncPeriodMs: 15_000, tolerance: 0.1 },
        triggers: [
          flakyTrigger(
            () => failing,
            () => 1,
          ),
        ],
      },
      1,
      0,
    );
    controller.step(0); // failures 1, 2
    failing = false;
    controller.step(15_000); // reset
    failing = true;
    controller.step(30_000); // 1, 2 again: below the threshold
    expect(controller.replicas).toBe(1);
    controller.step(45_000); // 3, 4: fallback
    expect(controller.replicas).toBe(3);
  });

  it("holds the replicas while an inactive trigger errs, unless the fallback is 0 replicas", () => {
    for (const [fallbackReplicas, expected] of [
      [2, 2],
      [0, 0],
    ] as const) {
      let failing = false;
      const controller = new ScaleController(
        {
          maxReplicas: 8,
          minReplicasAt: () => 0,
          keda: {
            pollingIntervalMs: 15_000,
            cooldownMs: 300_000,
            fallback: { failureThreshold: 1_000, replicas: fallbackReplicas },
          },
          hpa: { syncPeriodMs: 15_000, tolerance: 0.1 },
          triggers: [
            flakyTrigger(
              () => failing,
              () => 2,
            ),
          ],
        },
        2,
        0,
      );
      controller.step(0);
      failing = true;
      for (let t = 15_000; t <= 900_000; t += 15_000) controller.step(t);
      expect(controller.replicas).toBe(expected);
    }
  });

  it("records no recommendation while an invalid metric blocks a scale-down", () => {
    let failing = false;
    let value = 4;
    const controller = new ScaleController(
      {
        maxReplicas: 8,
        minReplicasAt: () => 1,
        hpa: { syncPeriodMs: 15_000, tolerance: 0.1 },
        triggers: [
          {
            name: "ok",
            evaluate: () => ({ metric: { kind: "averageValue", value, target: 1 }, active: true }),
          },
          flakyTrigger(
            () => failing,
            () => 0,
          ),
        ],
      },
      4,
      0,
    );
    controller.step(0);
    failing = true;
    value = 1;
    for (let t = 15_000; t <= 600_000; t += 15_000) controller.step(t);
    expect(controller.replicas).toBe(4);
    // Nothing was recorded during the ten minutes of errors, so the 5-minute downscale window holds
    // only this sync's proposal: straight to 1. (Recording "4" each time would hold 4 until 900 s.)
    failing = false;
    controller.step(615_000);
    expect(controller.replicas).toBe(1);
  });

  it("does not refresh 'last active' while another trigger errs, so the cooldown runs from the last clean poll", () => {
    let active = true;
    let failing = true;
    const controller = new ScaleController(
      {
        ...setup(
          () => (active ? 2 : 0),
          () => active,
        ),
        triggers: [
          {
            name: "ok",
            evaluate: () => ({ metric: { kind: "averageValue", value: active ? 2 : 0, target: 1 }, active }),
          },
          {
            name: "broken",
            evaluate: () =>
              failing
                ? { error: "down", active: false }
                : { metric: { kind: "averageValue", value: 0, target: 1 }, active: false },
          },
        ],
      },
      2,
      0,
    );
    // Ten minutes of "active, but a trigger errs": KEDA keeps the cooldown clock where it was (0).
    for (let t = 0; t < 600_000; t += 15_000) controller.step(t);
    expect(controller.replicas).toBeGreaterThan(0);
    active = false;
    failing = false;
    // The first clean, inactive poll is past the 300 s cooldown counted from 0: straight to zero.
    controller.step(600_000);
    expect(controller.replicas).toBe(0);
  });
});
