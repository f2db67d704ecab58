import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/resolve.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";

const SCALED_OBJECT = { name: "vllm", namespace: "inference" };

function problemsOf(
  metadata: Record<string, string>,
  env: Record<string, string> = {},
): { where: string; message: string }[] {
  try {
    parseScalerSpec(SCALED_OBJECT, metadata, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const SCHEDULE = { warmFloorSchedule: "Asia/Singapore Mon-Fri 08:00-23:00", maxReplicas: "8" };

describe("settings that could never take effect are refused when the configuration is read", () => {
  it.each([
    [
      "warmFloorReplicas above maxReplicas",
      { ...SCHEDULE, warmFloorReplicas: "20" },
      "scalerMetadata.warmFloorReplicas",
      "scalerMetadata.warmFloorReplicas (20) must be at most maxReplicas (8)",
    ],
    [
      "warmFloorOutsideReplicas above maxReplicas",
      { maxReplicas: "8", warmFloorOutsideReplicas: "9" },
      "scalerMetadata.warmFloorOutsideReplicas",
      "scalerMetadata.warmFloorOutsideReplicas (9) must be at most maxReplicas (8)",
    ],
    [
      "a dated override above maxReplicas",
      { ...SCHEDULE, warmFloorOverrides: "monthEnd=2; 2026-12-01=12" },
      "scalerMetadata.warmFloorOverrides",
      'scalerMetadata.warmFloorOverrides "2026-12-01=12" (12) must be at most maxReplicas (8)',
    ],
    [
      "a window's own count above maxReplicas",
      { maxReplicas: "8", warmFloorSchedule: "UTC Mon-Fri 08:00-18:00 3; UTC Mon-Fri 08:00-10:00 9" },
      "scalerMetadata.warmFloorSchedule",
      'scalerMetadata.warmFloorSchedule window "UTC Mon-Fri 08:00-10:00 9" (9) must be at most maxReplicas (8)',
    ],
    [
      "spareReplicas above maxReplicas for the headroom role",
      { role: "headroom", maxReplicas: "2", spareReplicas: "3" },
      "scalerMetadata.spareReplicas",
      "scalerMetadata.spareReplicas (3) must be at most maxReplicas (2): with role=headroom, maxReplicas bounds the placeholder pods",
    ],
    [
      "failStaticHoldSeconds longer than unavailableAfterSeconds",
      { failStaticHoldSeconds: "600", unavailableAfterSeconds: "300" },
      "scalerMetadata.failStaticHoldSeconds",
      "scalerMetadata.failStaticHoldSeconds (600) must be at most unavailableAfterSeconds (300)",
    ],
  ])("refuses %s, naming the key", (_, metadata, where, message) => {
    const problems = problemsOf(metadata);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.where).toBe(where);
    expect(problems[0]?.message).toContain(message);
  });

  it("names the environment variable when the bad value came from there", () => {
    expect(problemsOf({ maxReplicas: "4" }, { WARM_FLOOR_OUTSIDE_REPLICAS: "5" })[0]?.where).toBe(
      "env WARM_FLOOR_OUTSIDE_REPLICAS",
    );
  });

  it.each([
    [
      "counts equal to maxReplicas",
      {
        ...SCHEDULE,
        warmFloorReplicas: "8",
        warmFloorOutsideReplicas: "8",
        warmFloorOverrides: "monthEnd=8",
      },
    ],
    [
      "warmFloorReplicas above max when every window has its own count",
      { maxReplicas: "4", warmFloorReplicas: "6", warmFloorSchedule: "UTC Mon-Fri 08:00-10:00 4" },
    ],
    [
      "warmFloorReplicas above max without a schedule (it never applies)",
      { maxReplicas: "4", warmFloorReplicas: "6" },
    ],
    [
      "spareReplicas above max for the serving role (it is not used)",
      { maxReplicas: "2", spareReplicas: "3" },
    ],
    [
      "a hold equal to unavailableAfterSeconds",
      { failStaticHoldSeconds: "300", unavailableAfterSeconds: "300" },
    ],
  ])("accepts %s", (_, metadata) => {
    expect(problemsOf(metadata)).toEqual([]);
  });

  it("runs beside fields that failed to parse, naming each problem once", () => {
    const problems = problemsOf({
      maxReplicas: "eight",
      warmFloorSchedule: "Mars/Olympus Mon-Fri 08:00-10:00",
      warmFloorReplicas: "20",
      warmFloorOverrides: "monthEnd=two",
      failStaticHoldSeconds: "600",
      unavailableAfterSeconds: "soon",
      role: "headroom",
      spareReplicas: "30",
    });
    expect(problems.map((p) => p.where).sort()).toEqual([
      "scalerMetadata.maxReplicas",
      "scalerMetadata.unavailableAfterSeconds",
      "scalerMetadata.warmFloorOverrides",
      "scalerMetadata.warmFloorSchedule",
    ]);
  });
});
