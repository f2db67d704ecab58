import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runCli } from "../support/cli.ts";

/**
 * deploy/examples/realtime/scaledobject.yaml has no namespace of its own: its kustomization.yaml
 * gives it llm-inference. Namespace-scoped tenancy rules make that difference matter.
 */
const REALTIME = join(REPO_ROOT, "deploy/examples/realtime/scaledobject.yaml");
const TENANCY = { SERVICEBUS_ALLOWED_ENTITIES: "llm-inference=so-*" };

describe("check-config --scaledobject", () => {
  it("prints what the trigger itself sets, not only the environment's defaults", () => {
    const result = runCli(["check-config", "--scaledobject", REALTIME]);
    expect(result.status).toBe(0);
    const trigger = result.stdout.slice(result.stdout.indexOf("ScaledObject llm-inference/vllm-realtime"));
    expect(trigger).toMatch(/warmFloorSchedule\s+Asia\/Singapore Mon-Fri 08:00-23:00\n/);
    expect(trigger).toMatch(/warmFloorOverrides\s+monthEnd=2 from 20:00 day before\n/);
    expect(trigger).toMatch(/scalerAddress\s+keda-llm-scaler\.keda-llm-scaler:6000\n/);
    // The defaults section still says what the environment alone gives.
    expect(result.stdout).toMatch(/warmFloorSchedule \(WARM_FLOOR_SCHEDULE\)\s+\(unset\)/);
  });

  it("lists trigger settings in --json too, secrets redacted", () => {
    const result = runCli(["check-config", "--json", "--scaledobject", REALTIME]);
    const report = JSON.parse(result.stdout) as {
      triggers: { scaledObject: string; settings: { name: string; value: string; from: string }[] }[];
    };
    expect(report.triggers[0]?.scaledObject).toBe("llm-inference/vllm-realtime");
    expect(report.triggers[0]?.settings).toContainEqual({
      name: "warmFloorSchedule",
      value: "Asia/Singapore Mon-Fri 08:00-23:00",
      from: "metadata",
    });
  });

  it("judges the trigger in the kustomization's namespace, or in --namespace", () => {
    expect(runCli(["check-config", "--scaledobject", REALTIME], TENANCY).status).toBe(0);
    const elsewhere = runCli(["check-config", "--namespace", "team-b", "--scaledobject", REALTIME], TENANCY);
    expect(elsewhere.status).toBe(1);
    expect(elsewhere.stdout).toContain("ScaledObject team-b/vllm-realtime, trigger 0: invalid");
    expect(elsewhere.stdout).toMatch(/"so-processing-queue" is not allowed for namespace team-b/);
  });
});

describe("explain --scaledobject", () => {
  const copy = mkdtempSync(join(tmpdir(), "explain-ns-"));
  afterAll(() => rmSync(copy, { recursive: true, force: true }));
  const readings = ["--readings", "queueBacklog=3", "--at", "2026-11-23T10:00:00+08:00"];

  it("takes the namespace from the kustomization that lists the file", () => {
    const result = runCli(["explain", "--scaledobject", REALTIME, ...readings], TENANCY);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ScaledObject llm-inference\/vllm-realtime at /);
  });

  it("lets --namespace override it, with that namespace's tenancy rules", () => {
    const result = runCli(
      ["explain", "--scaledobject", REALTIME, "--namespace", "team-b", ...readings],
      TENANCY,
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/not allowed for namespace team-b/);
  });

  it("falls back to default for a file no kustomization lists", () => {
    cpSync(REALTIME, join(copy, "scaledobject.yaml"));
    const result = runCli(["explain", "--scaledobject", join(copy, "scaledobject.yaml"), ...readings]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ScaledObject default\/vllm-realtime at /);
  });
});
