import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../support/scaler-harness.ts";
import { find, only, renderKustomization } from "./support/kustomize.ts";

/**
 * The probes and the scrape path in the manifests, sent to a real scaler the way the kubelet and
 * Prometheus would send them: a renamed health service or HTTP path breaks this test, not a pod.
 */

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    callback: (error: grpc.ServiceError | null, response: { status: string }) => void,
  ): void;
};

function healthClient(address: string): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return new loaded.grpc.health.v1.Health(
    address,
    grpc.credentials.createInsecure(),
  ) as unknown as HealthClient;
}

function check(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))),
  );
}

function probes(dir: string): { name: string; probe: IProbe }[] {
  const deployment = only<IDeployment>(renderKustomization(dir).manifests, "Deployment", "keda-llm-scaler");
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === "scaler");
  return [
    { name: "liveness", probe: container?.livenessProbe },
    { name: "readiness", probe: container?.readinessProbe },
  ].filter((p): p is { name: string; probe: IProbe } => p.probe !== undefined);
}

let harness: Harness;
let health: HealthClient;
beforeAll(async () => {
  harness = await startHarness();
  health = healthClient(harness.address);
});
afterAll(async () => {
  health?.close();
  await harness?.stop();
});

describe("the probes and scrape path in the manifests, against a running scaler", () => {
  it("deploy/base: both gRPC health probes name services the scaler reports SERVING", async () => {
    const grpcProbes = probes("deploy/base").filter((p) => p.probe.grpc);
    expect(grpcProbes.map((p) => p.name)).toEqual(["liveness", "readiness"]);
    for (const { probe } of grpcProbes)
      expect(await check(health, probe.grpc?.service ?? "")).toBe("SERVING");
  });

  it("deploy/overlays/aks-mtls: both HTTP probes answer 200", async () => {
    const httpProbes = probes("deploy/overlays/aks-mtls").filter((p) => p.probe.httpGet);
    expect(httpProbes).toHaveLength(2);
    for (const { probe } of httpProbes) {
      const response = await fetch(`http://127.0.0.1:${harness.scaler.httpPort}${probe.httpGet?.path}`);
      expect(response.status, probe.httpGet?.path).toBe(200);
    }
  });

  it("the ServiceMonitor's path serves the scaler's metrics", async () => {
    // Rendered first: a render that takes seconds on a loaded machine between two fetches lets the
    // server close the idle keep-alive connection the second fetch would reuse (ECONNRESET).
    const monitors = ["deploy/base", "deploy/overlays/aks"].map(
      (dir) =>
        find<{ spec: { endpoints: { path: string; port: string }[] } }>(
          renderKustomization(dir).manifests,
          "ServiceMonitor",
        )[0],
    );
    for (const monitor of monitors) {
      const endpoint = monitor?.spec.endpoints[0];
      expect(endpoint?.port).toBe("http");
      const response = await fetch(`http://127.0.0.1:${harness.scaler.httpPort}${endpoint?.path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/^# HELP keda_llm_scaler_/m);
    }
  });

  it("a probe naming an unknown health service would fail (so the check above can fail)", async () => {
    await expect(check(health, "externalscaler.Renamed")).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
  });
});
