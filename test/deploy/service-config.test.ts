import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/resolve.ts";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { only, renderKustomization } from "./support/kustomize.ts";

/** The environment the scaler process sees in a pod: the ConfigMap (envFrom) overlaid by env. */
function podEnvironment(dir: string): Record<string, string> {
  const { manifests } = renderKustomization(dir);
  const deployment = only<IDeployment>(manifests, "Deployment", "keda-llm-scaler");
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === "scaler");
  const env: Record<string, string> = {};
  for (const source of container?.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (name) Object.assign(env, only<IConfigMap>(manifests, "ConfigMap", name).data ?? {});
  }
  for (const variable of container?.env ?? [])
    if (variable.value !== undefined) env[variable.name] = variable.value;
  return env;
}

describe.each(["deploy/base", "deploy/overlays/aks", "deploy/overlays/aks-mtls"])(
  "the process environment rendered by %s",
  (dir) => {
    it("passes the scaler's own environment validation, with the ports the Deployment declares", () => {
      const config = loadServiceConfig(podEnvironment(dir));
      expect(config.server.grpcPort).toBe(6000);
      expect(config.server.httpPort).toBe(8080);
      expect(config.server.listenHost).toBe("0.0.0.0");
    });
  },
);

describe("what each overlay configures", () => {
  it("AKS reads managed Prometheus with an Entra ID token, and Service Bus and Azure Monitor by identity", () => {
    const config = loadServiceConfig(podEnvironment("deploy/overlays/aks"));
    expect(config.prometheus.auth).toBe("azure");
    expect(config.prometheus.url).toMatch(/^https:\/\/.+\.prometheus\.monitor\.azure\.com$/);
    expect(config.serviceBus.namespace).toMatch(/\.servicebus\.windows\.net$/);
    expect(config.serviceBus.connectionString).toBeUndefined();
    expect(config.azureMonitor.endpoint).toMatch(/^https:\/\/.+\.metrics\.monitor\.azure\.com$/);
  });

  it("aks-mtls serves TLS and requires client certificates", () => {
    const config = loadServiceConfig(podEnvironment("deploy/overlays/aks-mtls"));
    expect(config.tls.certFile).toBeDefined();
    expect(config.tls.keyFile).toBeDefined();
    expect(config.tls.clientCaFile).toBeDefined();
  });

  it("a broken value in a ConfigMap would be caught (so the check above can fail)", () => {
    expect(() =>
      loadServiceConfig({ ...podEnvironment("deploy/base"), PROMETHEUS_AUTH: "kerberos" }),
    ).toThrow(ConfigError);
  });
});
