import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { INodePool } from "@kubernetes-models/karpenter/karpenter.sh/v1/NodePool";
import type { IScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IPriorityClass } from "kubernetes-models/scheduling.k8s.io/v1/PriorityClass";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IService } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { checkTrigger, externalTriggersIn } from "../../src/config/scaledobject.ts";
import { DEPLOY_DIR, only, parseManifests, REPO_ROOT, renderKustomization } from "./support/kustomize.ts";
import { validateManifests } from "./support/schemas.ts";

const EXAMPLES = ["realtime", "realtime-mtls", "batch", "dev", "headroom"].map((e) => `deploy/examples/${e}`);

function example(name: string) {
  const { manifests, yaml } = renderKustomization(`deploy/examples/${name}`);
  return { manifests, yaml };
}

function scaledObject(name: string, soName: string) {
  return only<IScaledObject>(example(name).manifests, "ScaledObject", soName);
}

function podSpec(name: string, deployment: string): IPodSpec {
  const spec = only<IDeployment>(example(name).manifests, "Deployment", deployment).spec?.template.spec;
  if (!spec) throw new Error(`${deployment} has no pod spec`);
  return spec;
}

const tolerates = (pod: IPodSpec, key: string, value: string) =>
  (pod.tolerations ?? []).some(
    (t) =>
      t.key === key &&
      (t.operator === "Exists" || t.value === value) &&
      (t.effect === undefined || t.effect === "NoSchedule"),
  );

function requiredNodeLabel(pod: IPodSpec, key: string): string[] {
  const terms =
    pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  return terms.flatMap((term) =>
    (term.matchExpressions ?? [])
      .filter((e) => e.key === key && e.operator === "In")
      .flatMap((e) => e.values ?? []),
  );
}

function gpus(pod: IPodSpec): number {
  return pod.containers.reduce((sum, c) => sum + Number(c.resources?.limits?.["nvidia.com/gpu"] ?? 0), 0);
}

/**
 * The environment the AKS overlay gives the scaler (the examples' Service Bus queues need its
 * SERVICEBUS_NAMESPACE): what check-config validates against once the ConfigMap is exported.
 */
const AKS_SCALER_ENV = (only<{ data?: Record<string, string> }>(
  renderKustomization("deploy/overlays/aks").manifests,
  "ConfigMap",
  "keda-llm-scaler-env",
).data ?? {}) as Readonly<Record<string, string>>;

describe.each(EXAMPLES)("the ScaledObjects of %s", (dir) => {
  const { manifests, yaml } = renderKustomization(dir);
  const triggers = externalTriggersIn(yaml);

  it("each have an external trigger whose metadata passes the scaler's own validation, without warnings", () => {
    expect(triggers.length).toBeGreaterThan(0);
    for (const trigger of triggers) {
      const check = checkTrigger(trigger, AKS_SCALER_ENV);
      expect(check.problems, trigger.scaledObject.name).toEqual([]);
      expect(check.warnings, trigger.scaledObject.name).toEqual([]);
    }
  });

  it("dial the scaler's Service on its gRPC port, and scale a Deployment rendered next to them", () => {
    const service = only<IService>(
      renderKustomization("deploy/base").manifests,
      "Service",
      "keda-llm-scaler",
    );
    const grpc = service.spec?.ports?.find((p) => p.name === "grpc")?.port;
    for (const trigger of triggers)
      expect(trigger.metadata.scalerAddress).toBe(
        `${service.metadata?.name}.${service.metadata?.namespace}:${grpc}`,
      );
    for (const so of manifests.filter((m) => m.kind === "ScaledObject") as unknown as IScaledObject[]) {
      only<IDeployment>(manifests, "Deployment", so.spec.scaleTargetRef.name);
      const metadata = so.spec.triggers[0]?.metadata ?? {};
      // KEDA's bounds and the scaler's agree; minReplicaCount 0 so the warm floor can reach zero.
      expect(so.spec.minReplicaCount).toBe(0);
      expect(String(so.spec.maxReplicaCount)).toBe(metadata.maxReplicas);
      // AverageValue (unset): the answer is a replica count with target 1.
      expect(so.spec.triggers[0]?.metricType).toBeUndefined();
    }
  });
});

describe("the scaler's validation catches bad trigger metadata (so the check above can fail)", () => {
  it("reports a bad value and an unknown key, naming them", () => {
    const [trigger] = externalTriggersIn(example("realtime").yaml);
    if (!trigger) throw new Error("no trigger");
    const bad = {
      ...trigger,
      metadata: { ...trigger.metadata, maxReplicas: "eight", warmFloorShedule: "x" },
    };
    const messages = checkTrigger(bad, {})
      .problems.map((p) => p.message)
      .join("\n");
    expect(messages).toMatch(/maxReplicas/);
    expect(messages).toMatch(/warmFloorShedule/);
  });

  it("`keda-llm-scaler check-config --scaledobject` accepts every example as rendered", () => {
    const dir = mkdtempSync(join(tmpdir(), "deploy-check-"));
    try {
      const file = join(dir, "examples.yaml");
      writeFileSync(file, EXAMPLES.map((d) => renderKustomization(d).yaml).join("\n---\n"));
      const out = execFileSync(
        process.execPath,
        ["--import", "tsx", join(REPO_ROOT, "src/cli.ts"), "check-config", "--scaledobject", file],
        { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH ?? "" } },
      );
      expect(out).toMatch(/Configuration is valid/);
      expect(out.match(/trigger 0: valid/g)?.length).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("real-time (deploy/examples/realtime)", () => {
  const so = scaledObject("realtime", "vllm-realtime");
  const metadata = so.spec.triggers[0]?.metadata ?? {};
  const pod = podSpec("realtime", "vllm-realtime");

  it("scales 0..8 with the warm floor holding business hours, and falls back instead of freezing", () => {
    expect(so.spec.maxReplicaCount).toBe(8);
    expect(metadata.warmFloorSchedule).toMatch(/Mon-Fri/);
    expect(so.spec.fallback?.failureThreshold).toBeGreaterThanOrEqual(1);
    expect(so.spec.fallback?.replicas).toBeGreaterThanOrEqual(1);
  });

  it("scales up at once and down slowly", () => {
    const behavior = so.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
    expect(behavior?.scaleUp?.stabilizationWindowSeconds).toBe(0);
    expect(behavior?.scaleDown?.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    const podsDownPerMinute = Math.max(
      ...(behavior?.scaleDown?.policies ?? []).map((p) =>
        p.type === "Pods" ? (p.value * 60) / p.periodSeconds : 0,
      ),
    );
    const podsUpPerMinute = Math.max(
      ...(behavior?.scaleUp?.policies ?? []).map((p) =>
        p.type === "Pods" ? (p.value * 60) / p.periodSeconds : 0,
      ),
    );
    expect(podsUpPerMinute).toBeGreaterThan(podsDownPerMinute);
  });

  it("runs only on the on-demand real-time pool, one GPU per replica", () => {
    expect(tolerates(pod, "dedicated", "realtime")).toBe(true);
    expect(requiredNodeLabel(pod, "dedicated")).toEqual(["realtime"]);
    expect(gpus(pod)).toBe(1);
  });

  it("turns ready only after a warm-up, and never cuts a running request on scale-down", () => {
    const vllm = pod.containers[0];
    const startup = vllm?.startupProbe;
    // Model load can take minutes: the startup probe must allow at least 10 of them.
    expect((startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3)).toBeGreaterThanOrEqual(600);
    expect(startup?.exec?.command?.join(" ")).toMatch(/v1\/completions/);
    expect(vllm?.readinessProbe).toBeDefined();
    expect(vllm?.lifecycle?.preStop?.exec?.command?.join(" ")).toMatch(/num_requests_\(running\|waiting\)/);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(600);
  });
});

describe("batch and dev never land on real-time nodes", () => {
  it.each([
    ["batch", "vllm-batch"],
    ["dev", "vllm-dev"],
  ])(
    "%s: no real-time toleration, requires the batch pool, tolerates AKS's spot taint",
    (name, deployment) => {
      const pod = podSpec(name, deployment);
      expect(tolerates(pod, "dedicated", "realtime")).toBe(false);
      expect((pod.tolerations ?? []).some((t) => t.operator === "Exists" && t.key === undefined)).toBe(false);
      expect(requiredNodeLabel(pod, "dedicated")).toEqual(["batch"]);
      expect(tolerates(pod, "kubernetes.azure.com/scalesetpriority", "spot")).toBe(true);
      expect(scaledObject(name, deployment).spec.minReplicaCount).toBe(0);
    },
  );
});

describe("the warm node buffer (deploy/examples/headroom)", () => {
  const { manifests } = example("headroom");
  const so = scaledObject("headroom", "gpu-headroom");
  const metadata = so.spec.triggers[0]?.metadata ?? {};
  const placeholder = podSpec("headroom", "gpu-headroom");
  const serving = podSpec("realtime", "vllm-realtime");

  it("is scaled by the same scaler in its headroom role, from the serving Deployment's signals", () => {
    expect(metadata.role).toBe("headroom");
    expect(metadata.deployment).toBe("vllm-realtime");
    const realtime = scaledObject("realtime", "vllm-realtime").spec.triggers[0]?.metadata ?? {};
    // Both must agree on what the serving side wants and when it is warm: every setting of the
    // real-time trigger but its own role and bounds is repeated, unchanged.
    const own = new Set(["role", "minReplicas", "maxReplicas"]);
    for (const [key, value] of Object.entries(realtime))
      if (!own.has(key)) expect(metadata[key], key).toBe(value);
  });

  it("runs below every real pod but above the Cluster Autoscaler's expendable cutoff (-10), never preempting", () => {
    const priority = only<IPriorityClass>(manifests, "PriorityClass", placeholder.priorityClassName);
    expect(priority.value).toBeLessThan(0);
    expect(priority.value).toBeGreaterThanOrEqual(-10);
    expect(priority.preemptionPolicy).toBe("Never");
    expect(priority.globalDefault).toBe(false);
  });

  it("holds exactly one serving replica's GPUs on exactly the serving pool", () => {
    expect(gpus(placeholder)).toBe(gpus(serving));
    expect(requiredNodeLabel(placeholder, "dedicated")).toEqual(requiredNodeLabel(serving, "dedicated"));
    expect(tolerates(placeholder, "dedicated", "realtime")).toBe(true);
  });
});

describe("node pools: AKS commands, Karpenter NodePools and the workloads agree", () => {
  const readme = readFileSync(join(DEPLOY_DIR, "README.md"), "utf8");
  const commands = readme
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .filter((line) => line.startsWith("az aks nodepool add"));
  const pool = (dedicated: string) => {
    const command = commands.find((c) => c.includes(`--labels dedicated=${dedicated}`));
    if (!command) throw new Error(`no az aks nodepool add with --labels dedicated=${dedicated}`);
    return {
      taint: /--node-taints (\S+)/.exec(command)?.[1],
      maxCount: Number(/--max-count (\d+)/.exec(command)?.[1]),
      spot: command.includes("--priority Spot"),
      autoscaled: command.includes("--enable-cluster-autoscaler"),
    };
  };
  const karpenterManifests = parseManifests(
    readFileSync(join(DEPLOY_DIR, "karpenter/nodepools.yaml"), "utf8"),
    "karpenter",
  );
  const karpenter = karpenterManifests.filter((m) => m.kind === "NodePool") as unknown as INodePool[];

  it("ships Karpenter NodePools that validate against Karpenter's own schema", async () => {
    expect(karpenter.length).toBeGreaterThan(0);
    expect(await validateManifests(karpenterManifests)).toEqual([]);
  });

  it.each([
    ["realtime", "realtime", "vllm-realtime", false],
    ["batch", "batch", "vllm-batch", true],
  ] as const)("the %s pool", (dedicated, exampleName, deployment, spot) => {
    const aks = pool(dedicated);
    expect(aks.taint).toBe(`dedicated=${dedicated}:NoSchedule`);
    expect(aks.spot).toBe(spot);
    expect(aks.autoscaled).toBe(true);
    // One GPU per node and per replica: the pool must be able to hold maxReplicaCount replicas.
    expect(aks.maxCount).toBeGreaterThanOrEqual(
      scaledObject(exampleName, deployment).spec.maxReplicaCount ?? 0,
    );

    const nodePool = karpenter.find((m) => m.spec?.template.metadata?.labels?.dedicated === dedicated);
    if (!nodePool?.spec) throw new Error(`no Karpenter NodePool labelled dedicated=${dedicated}`);
    const template = nodePool.spec.template.spec;
    expect(template.taints).toEqual([{ key: "dedicated", value: dedicated, effect: "NoSchedule" }]);
    const capacity = template.requirements.find((r) => r.key === "karpenter.sh/capacity-type")?.values;
    expect(capacity).toEqual([spot ? "spot" : "on-demand"]);
  });

  it("lets the autoscaler's node drain wait as long as vLLM's own termination grace", () => {
    const drain = Number(/max-graceful-termination-sec=(\d+)/.exec(readme)?.[1]);
    expect(drain).toBeGreaterThanOrEqual(
      podSpec("realtime", "vllm-realtime").terminationGracePeriodSeconds ?? 30,
    );
  });

  it("documents the Cluster Autoscaler profile settings that decide GPU reaction time", () => {
    for (const setting of [
      "scan-interval=",
      "new-pod-scale-up-delay=",
      "scale-down-delay-after-add=",
      "scale-down-unneeded-time=",
      "max-node-provision-time=",
    ])
      expect(readme).toContain(setting);
  });
});
