import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";

const SECRET =
  "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=manage;SharedAccessKey=s3cr3tKEY=";

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "check-config-")), "scaledobjects.yaml");
  writeFileSync(file, text);
  return file;
}

const GOOD_AND_BAD = `
apiVersion: v1
kind: Service
metadata: { name: not-a-scaledobject }
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: chat, namespace: inference }
spec:
  scaleTargetRef: { name: vllm-chat }
  minReplicaCount: 0
  maxReplicaCount: 8
  triggers:
    - type: external
      metadata:
        scalerAddress: keda-llm-scaler.keda:6000
        serviceBusQueue: chat-requests
        maxReplicas: 8
        targetUtilisation: "0.7"
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: batch, namespace: inference }
spec:
  scaleTargetRef: { name: vllm-batch }
  maxReplicaCount: 4
  triggers:
    - type: cpu
      metadata: { value: "50" }
    - type: external
      metricType: Value
      metadata:
        scalerAddress: keda-llm-scaler.keda:6000
        maxReplicas: "lots"
        queueMod: drain
`;

describe("check-config", () => {
  it("prints every resolved setting with its origin and redacts secrets", () => {
    const result = runCli(["check-config"], { SERVICEBUS_CONNECTION_STRING: SECRET, MAX_REPLICAS: "12" });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/SERVICEBUS_CONNECTION_STRING\s+\(set, redacted\)\s+\[env\]/);
    expect(result.stdout).toMatch(/maxReplicas \(MAX_REPLICAS\)\s+12\s+\[env\]/);
    expect(result.stdout).toMatch(/GRPC_PORT\s+6000\s+\[default\]/);
    expect(result.stdout).not.toContain("s3cr3tKEY");
    expect(result.stdout).toContain("Configuration is valid.");
  });

  it("shows parsed settings (a schedule, tenant rules) as written", () => {
    const result = runCli(["check-config"], {
      WARM_FLOOR_SCHEDULE: "Asia/Singapore Mon-Fri 08:00-23:00",
      SERVICEBUS_ALLOWED_ENTITIES: "inference=chat-*",
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /warmFloorSchedule \(WARM_FLOOR_SCHEDULE\)\s+Asia\/Singapore Mon-Fri 08:00-23:00\s+\[env\]/,
    );
    expect(result.stdout).toMatch(/SERVICEBUS_ALLOWED_ENTITIES\s+inference=chat-\*\s+\[env\]/);
    expect(result.stdout).not.toContain("[object Object]");
  });

  it("fails on a bad environment, naming the variable", () => {
    const result = runCli(["check-config"], { TARGET_UTILISATION: "70%" });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("env TARGET_UTILISATION must be");
    expect(result.stdout).toContain('got "70%"');
  });

  it("validates the external triggers of every ScaledObject in a YAML file", () => {
    const result = runCli(["check-config", "--scaledobject", yamlFile(GOOD_AND_BAD)]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("ScaledObject inference/chat, trigger 0: valid");
    // The scaler reads a bare 8 as "8", but KEDA's CRD declares every metadata value a string.
    expect(result.stdout).toContain(
      '! scalerMetadata.maxReplicas is not a string in the YAML: KEDA\'s ScaledObject takes only strings, so the API server refuses it; quote the value: maxReplicas: "8"',
    );
    expect(result.stdout).toContain("ScaledObject inference/batch, trigger 1: invalid");
    expect(result.stdout).toContain(
      'scalerMetadata.maxReplicas must be a whole number from 1 to 10000, got "lots"',
    );
    expect(result.stdout).toContain('unknown key "queueMod" (did you mean "queueMode"?)');
    expect(result.stdout).toContain("metricType Value");
    expect(result.stdout).toContain("Configuration is INVALID.");
  });

  /** A valid ScaledObject "chat" whose trigger adds `metadataLines` after its scalerAddress. */
  const chatScaledObject = (metadataLines: string) => `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: { name: chat, namespace: inference }
spec:
  scaleTargetRef: { name: vllm-chat }
  triggers:
    - type: external
      metadata:
        scalerAddress: keda-llm-scaler.keda:6000
        ${metadataLines}
`;

  it("warns when the TTFT target is looser than the SLA it serves", () => {
    const file = (ttft: string) =>
      yamlFile(chatScaledObject(`latencySlaSeconds: "10"\n        ttftTargetSeconds: "${ttft}"`));
    const loose = runCli(["check-config", "--scaledobject", file("30")]);
    expect(loose.status).toBe(0);
    expect(loose.stdout).toContain("! ttftTargetSeconds 30 is above latencySlaSeconds 10");
    expect(runCli(["check-config", "--scaledobject", file("5")]).stdout).not.toContain(
      "is above latencySlaSeconds",
    );
  });

  it("warns when a ScaledObject asks for what the service is not configured to give", () => {
    const file = yamlFile(
      chatScaledObject(
        `serviceBusQueue: chat-requests\n        waitingQuery: 'sum(vllm:num_requests_waiting{namespace="inference"})'`,
      ),
    );
    const bare = runCli(["check-config", "--scaledobject", file]);
    // Valid metadata: the warnings do not fail the check, they say what every poll would meet.
    expect(bare.status).toBe(0);
    expect(bare.stdout).toContain(
      "! scalerMetadata.serviceBusQueue names a Service Bus entity, but Service Bus is not configured on the service",
    );
    expect(bare.stdout).toContain(
      "! scalerMetadata.waitingQuery is set, but custom queries are off on the service (env ALLOW_CUSTOM_QUERIES=true enables them)",
    );
    const configured = runCli(["check-config", "--scaledobject", file], {
      SERVICEBUS_CONNECTION_STRING: SECRET,
      ALLOW_CUSTOM_QUERIES: "true",
    });
    expect(configured.status).toBe(0);
    expect(configured.stdout).not.toContain("not configured on the service");
    expect(configured.stdout).not.toContain("custom queries are off");
    // Set by the environment for every ScaledObject, the warning names the variable instead.
    const fromEnv = runCli(["check-config", "--scaledobject", file], { CUSTOM_GPU_QUERY: "vector(1)" });
    expect(fromEnv.stdout).toContain("! env CUSTOM_GPU_QUERY is set, but custom queries are off");
  });

  it("answers in JSON for scripts", () => {
    const result = runCli(["check-config", "--json", "--scaledobject", yamlFile(GOOD_AND_BAD)]);
    const report = JSON.parse(result.stdout) as {
      valid: boolean;
      triggers: { scaledObject: string; problems: unknown[] }[];
    };
    expect(report.valid).toBe(false);
    expect(report.triggers.map((t) => [t.scaledObject, t.problems.length])).toEqual([
      ["inference/chat", 0],
      ["inference/batch", 2],
    ]);
  });

  it("reports a usage error for an unknown flag", () => {
    const result = runCli(["check-config", "--frobnicate"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unexpected argument "--frobnicate"');
  });
});
