import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/resolve.ts";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { parseTenantRules, tenantMayRead } from "../../src/config/tenancy.ts";
import { ref, statusOf, useHarness } from "../support/scaler-harness.ts";

const VMSS = "/subscriptions/0000/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets";
const ENV = {
  SERVICEBUS_ALLOWED_ENTITIES: "inference=chat-*,batch=batch-requests,batch=events/billing,*=shared-probe",
  AZURE_MONITOR_ALLOWED_RESOURCES: `inference=${VMSS}/aks-gpu*`,
};

function problemsOf(namespace: string, metadata: Record<string, string>): string[] {
  try {
    parseScalerSpec({ name: "llm", namespace }, metadata, ENV);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.message);
    throw error;
  }
}

describe("tenant rules for Service Bus entities and Azure resources", () => {
  it("parse namespace=name entries, prefixes and a wildcard namespace", () => {
    expect(parseTenantRules(" inference=chat-* , *=shared ")).toEqual([
      { namespace: "inference", pattern: "chat-*" },
      { namespace: "*", pattern: "shared" },
    ]);
    expect(() => parseTenantRules("chat-requests")).toThrow(/not <namespace>=<name or prefix\*>/);
    expect(() => parseTenantRules("Inference=x")).toThrow(/not <namespace>=/);
    expect(() => parseTenantRules("a=c*t")).toThrow(/\* may only end a pattern/);
  });

  it("let a namespace read only its own entities", () => {
    const rules = parseTenantRules(ENV.SERVICEBUS_ALLOWED_ENTITIES);
    expect(tenantMayRead(rules, "inference", "chat-requests")).toBe(true);
    expect(tenantMayRead(rules, "inference", "batch-requests")).toBe(false);
    expect(tenantMayRead(rules, "batch", "batch-requests")).toBe(true);
    expect(tenantMayRead(rules, "batch", "batch-requests-2")).toBe(false);
    expect(tenantMayRead(rules, "anyone", "shared-probe")).toBe(true);
  });

  it("refuse another tenant's queue, subscription or VMSS, naming the key and the rule", () => {
    expect(problemsOf("inference", { serviceBusQueue: "chat-requests" })).toEqual([]);
    expect(problemsOf("inference", { serviceBusQueue: "batch-requests" })).toEqual([
      'scalerMetadata.serviceBusQueue: Service Bus entity "batch-requests" is not allowed for namespace inference by env SERVICEBUS_ALLOWED_ENTITIES',
    ]);
    expect(problemsOf("batch", { serviceBusTopic: "events", serviceBusSubscription: "billing" })).toEqual([]);
    expect(
      problemsOf("inference", { serviceBusTopic: "events", serviceBusSubscription: "billing" }),
    ).toHaveLength(1);
    expect(
      problemsOf("inference", { gpuSource: "azureMonitor", azureMonitorResourceIds: `${VMSS}/AKS-GPU-a` }),
    ).toEqual([]);
    expect(
      problemsOf("batch", { gpuSource: "azureMonitor", azureMonitorResourceIds: `${VMSS}/aks-gpu-a` })[0],
    ).toContain("is not allowed for namespace batch by env AZURE_MONITOR_ALLOWED_RESOURCES");
  });

  it("change nothing when unset (a single-tenant scaler)", () => {
    expect(() =>
      parseScalerSpec({ name: "llm", namespace: "x" }, { serviceBusQueue: "anything" }, {}),
    ).not.toThrow();
  });

  it("are validated at startup with the entry named", () => {
    expect(() => loadServiceConfig({ SERVICEBUS_ALLOWED_ENTITIES: "inference:chat" })).toThrow(
      /SERVICEBUS_ALLOWED_ENTITIES must be comma-separated <namespace>=<name> entries.*"inference:chat"/,
    );
  });
});

describe("over gRPC", () => {
  const running = useHarness(ENV);

  it("answers INVALID_ARGUMENT when a ScaledObject names a queue its namespace may not read", async () => {
    const other = await statusOf(
      running.client.call("GetMetricSpec", ref("llm", { serviceBusQueue: "batch-requests" }, "inference")),
    );
    expect(other.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(other.details).toContain("not allowed for namespace inference by env SERVICEBUS_ALLOWED_ENTITIES");
    const own = await statusOf(
      running.client.call("GetMetricSpec", ref("llm", { serviceBusQueue: "chat-requests" }, "inference")),
    );
    expect(own.code).toBe(grpc.status.OK);
  });
});
