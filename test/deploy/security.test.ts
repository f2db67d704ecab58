import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IService } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { find, only, REPO_ROOT, renderKustomization } from "./support/kustomize.ts";

const SCALER_OVERLAYS = ["deploy/base", "deploy/overlays/aks", "deploy/overlays/aks-mtls"];
const GRPC_PORT = 6000;
const HTTP_PORT = 8080;

function scaler(dir: string) {
  const { manifests } = renderKustomization(dir);
  const deployment = only<IDeployment>(manifests, "Deployment", "keda-llm-scaler");
  const pod = deployment.spec?.template.spec;
  const container = pod?.containers.find((c) => c.name === "scaler");
  if (!pod || !container) throw new Error(`${dir}: no scaler container`);
  const podLabels = deployment.spec?.template.metadata?.labels ?? {};
  const selects = (selector: Record<string, string> | undefined) =>
    selector !== undefined &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([k, v]) => podLabels[k] === v);
  return { manifests, deployment, pod, container, selects };
}

/** The numeric uid the image runs as (Dockerfile's last USER). */
function imageUid(): number {
  const users = [
    ...readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8").matchAll(/^USER\s+(\d+)(?::\d+)?\s*$/gm),
  ];
  const uid = users.at(-1)?.[1];
  if (uid === undefined) throw new Error("Dockerfile has no numeric USER");
  return Number(uid);
}

describe.each(SCALER_OVERLAYS)("the scaler as rendered by %s", (dir) => {
  it("runs 2 replicas, never both on one node, and rolls without losing one", () => {
    const { deployment, pod } = scaler(dir);
    expect(deployment.spec?.replicas).toBe(2);
    const byHost = pod.topologySpreadConstraints?.find((c) => c.topologyKey === "kubernetes.io/hostname");
    expect(byHost).toMatchObject({ maxSkew: 1, whenUnsatisfiable: "DoNotSchedule" });
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  it("runs as the image's non-root uid with no privilege escalation, a read-only root and no capabilities", () => {
    const { pod, container } = scaler(dir);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBe(imageUid());
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(pod.securityContext?.seccompProfile?.type).toBe("RuntimeDefault");
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    expect(container.securityContext?.privileged).not.toBe(true);
    expect(container.securityContext?.capabilities?.drop).toEqual(["ALL"]);
    expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("sets CPU and memory requests and limits", () => {
    const { container } = scaler(dir);
    for (const kind of ["requests", "limits"] as const)
      for (const resource of ["cpu", "memory"]) expect(container.resources?.[kind]?.[resource]).toBeDefined();
  });

  it("only writes to an emptyDir at /tmp", () => {
    const { pod, container } = scaler(dir);
    const writable = (container.volumeMounts ?? []).filter((m) => !m.readOnly);
    expect(writable.map((m) => m.mountPath)).toEqual(["/tmp"]);
    const tmp = pod.volumes?.find((v) => v.name === writable[0]?.name);
    expect(tmp?.emptyDir?.sizeLimit).toBeDefined();
  });

  it("probes health: gRPC health on the gRPC port in plaintext, HTTP /healthz and /readyz once the port speaks TLS", () => {
    const { container } = scaler(dir);
    const tls = (container.env ?? []).some((e) => e.name === "TLS_CERT_FILE");
    if (tls) {
      expect(container.livenessProbe?.httpGet).toMatchObject({ path: "/healthz", port: "http" });
      expect(container.readinessProbe?.httpGet).toMatchObject({ path: "/readyz", port: "http" });
      expect(container.livenessProbe?.grpc).toBeUndefined();
    } else {
      expect(container.livenessProbe?.grpc).toEqual({ port: GRPC_PORT, service: "" });
      expect(container.readinessProbe?.grpc).toEqual({
        port: GRPC_PORT,
        service: "externalscaler.ExternalScaler",
      });
    }
    const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ grpc: GRPC_PORT, http: HTTP_PORT });
  });

  it("has a PodDisruptionBudget keeping one replica through voluntary disruptions", () => {
    const { manifests, selects } = scaler(dir);
    const pdbs = find<IPodDisruptionBudget>(manifests, "PodDisruptionBudget").filter((p) =>
      selects(p.spec?.selector?.matchLabels),
    );
    expect(pdbs).toHaveLength(1);
    expect(pdbs[0]?.spec?.minAvailable).toBe(1);
  });

  it("has a NetworkPolicy admitting only KEDA's operator to gRPC and Prometheus to HTTP", () => {
    const { manifests, selects } = scaler(dir);
    const policies = find<INetworkPolicy>(manifests, "NetworkPolicy").filter((p) =>
      selects(p.spec?.podSelector?.matchLabels),
    );
    expect(policies).toHaveLength(1);
    const policy = policies[0];
    expect(policy?.spec?.policyTypes).toContain("Ingress");
    const rules = policy?.spec?.ingress ?? [];
    expect(rules.map((r) => r.ports?.map((p) => p.port))).toEqual([[GRPC_PORT], [HTTP_PORT]]);
    for (const rule of rules) {
      // Every peer names both a namespace and pods, or is the scaler's own pods in its own
      // namespace (replicas sharing memory): never "anyone", never "any pod in the namespace".
      expect(rule.from?.length).toBeGreaterThan(0);
      for (const peer of rule.from ?? []) {
        expect(Object.keys(peer.podSelector?.matchLabels ?? {}).length).toBeGreaterThan(0);
        expect(peer.ipBlock).toBeUndefined();
        if (peer.namespaceSelector === undefined) {
          expect(selects(peer.podSelector?.matchLabels)).toBe(true);
          continue;
        }
        expect(Object.keys(peer.namespaceSelector?.matchLabels ?? {})).toEqual([
          "kubernetes.io/metadata.name",
        ]);
      }
    }
    expect(JSON.stringify(rules[0]?.from)).toMatch(/keda-operator/);
    // The replicas reach each other on the gRPC port only.
    expect(rules[0]?.from?.some((peer) => peer.namespaceSelector === undefined)).toBe(true);
    expect(rules[1]?.from?.every((peer) => peer.namespaceSelector !== undefined)).toBe(true);
  });

  it("exposes both ports on a headless Service (so KEDA round-robins over both replicas) and is scraped", () => {
    const { manifests, selects } = scaler(dir);
    const service = only<IService>(manifests, "Service", "keda-llm-scaler");
    expect(service.spec?.clusterIP).toBe("None");
    expect(selects(service.spec?.selector)).toBe(true);
    expect(service.spec?.ports?.map((p) => [p.name, p.port])).toEqual([
      ["grpc", GRPC_PORT],
      ["http", HTTP_PORT],
    ]);
    expect(find(manifests, "ServiceMonitor")).toHaveLength(1);
  });

  it("lets the replicas find each other (PEERS_DNS) under a Service that publishes starting pods", () => {
    const { manifests, container, selects } = scaler(dir);
    const peers = only<IService>(manifests, "Service", "keda-llm-scaler-peers");
    expect(peers.spec?.clusterIP).toBe("None");
    expect(peers.spec?.publishNotReadyAddresses).toBe(true);
    expect(selects(peers.spec?.selector)).toBe(true);
    expect(peers.spec?.ports?.map((p) => [p.name, p.port])).toEqual([["grpc", GRPC_PORT]]);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.PEERS_DNS).toBe(peers.metadata?.name);
  });

  it("bakes no secret into the manifests", () => {
    const { manifests, container } = scaler(dir);
    expect(find(manifests, "Secret")).toEqual([]);
    for (const env of container.env ?? [])
      if (/TOKEN|PASSWORD|CONNECTION_STRING|SECRET/.test(env.name)) expect(env.value).toBeUndefined();
  });
});

describe("Azure workload identity (deploy/overlays/aks)", () => {
  it("annotates the ServiceAccount with a client id and labels the pods for the webhook", () => {
    const { manifests, deployment } = scaler("deploy/overlays/aks");
    const account = only(manifests, "ServiceAccount", "keda-llm-scaler");
    const annotations = (account.metadata as { annotations?: Record<string, string> }).annotations ?? {};
    expect(annotations["azure.workload.identity/client-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(deployment.spec?.template.metadata?.labels?.["azure.workload.identity/use"]).toBe("true");
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe("keda-llm-scaler");
  });
});

describe("mutual TLS (deploy/overlays/aks-mtls)", () => {
  it("mounts the cert-manager secret read-only and points TLS_* at files inside it", () => {
    const { manifests, pod, container } = scaler("deploy/overlays/aks-mtls");
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    const mount = container.volumeMounts?.find((m) => m.name === "tls");
    expect(mount?.readOnly).toBe(true);
    for (const key of ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE"])
      expect(env[key]?.startsWith(`${mount?.mountPath}/`), key).toBe(true);
    const secret = pod.volumes?.find((v) => v.name === "tls")?.secret;
    // The key is readable by the pod's user and group only, never by others.
    expect((secret?.defaultMode ?? 0o644) & 0o007).toBe(0);
    const secretName = secret?.secretName;
    const certificate = only<{ spec: { secretName: string; dnsNames: string[]; usages: string[] } }>(
      manifests,
      "Certificate",
      "keda-llm-scaler-server",
    );
    expect(certificate.spec.secretName).toBe(secretName);
    expect(certificate.spec.usages).toContain("server auth");
    // Replicas present it to each other (PEERS_DNS), checked against the peers' Service name.
    expect(certificate.spec.usages).toContain("client auth");
    expect(certificate.spec.dnsNames).toContain(env.PEERS_DNS);
    // KEDA verifies the host part of scalerAddress against the certificate.
    expect(certificate.spec.dnsNames).toContain("keda-llm-scaler.keda-llm-scaler");
  });

  it("KEDA's side: the example's trigger references a TriggerAuthentication fed by a certificate from the scaler's CA", () => {
    const server = renderKustomization("deploy/overlays/aks-mtls").manifests;
    const client = renderKustomization("deploy/examples/realtime-mtls").manifests;
    type Certificate = {
      spec: { secretName: string; usages: string[]; issuerRef: { kind: string; name: string } };
    };
    const serverCertificate = only<Certificate>(server, "Certificate", "keda-llm-scaler-server");
    const [clientCertificate] = find<Certificate>(client, "Certificate");
    // Same issuer: the scaler's TLS_CLIENT_CA_FILE (the secret's ca.crt) trusts KEDA's certificate.
    expect(clientCertificate?.spec.issuerRef).toEqual(serverCertificate.spec.issuerRef);
    expect(find(server, "ClusterIssuer", serverCertificate.spec.issuerRef.name)).toHaveLength(1);
    expect(clientCertificate?.spec.usages).toContain("client auth");

    const auth = only<{
      metadata: { name: string };
      spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
    }>(client, "TriggerAuthentication");
    expect(auth.spec.secretTargetRef.map((r) => [r.parameter, r.name, r.key])).toEqual([
      ["caCert", clientCertificate?.spec.secretName, "ca.crt"],
      ["tlsClientCert", clientCertificate?.spec.secretName, "tls.crt"],
      ["tlsClientKey", clientCertificate?.spec.secretName, "tls.key"],
    ]);
    const so = only<{ spec: { triggers: { authenticationRef?: { name: string } }[] } }>(
      client,
      "ScaledObject",
    );
    expect(so.spec.triggers[0]?.authenticationRef?.name).toBe(auth.metadata.name);
  });
});
