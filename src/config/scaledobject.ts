import { parseAllDocuments } from "yaml";
import { type ConfigProblem, collectProblems } from "./resolve.ts";
import { resolveScalerSpec, type ScalerSpec } from "./spec.ts";

/** One `external` trigger of a ScaledObject manifest, as KEDA would hand it to us. */
export interface ExternalTrigger {
  readonly scaledObject: { readonly name: string; readonly namespace: string };
  readonly triggerIndex: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** AverageValue (KEDA's default) or Value: our answer assumes AverageValue with target 1. */
  readonly metricType: string;
  readonly minReplicaCount?: number;
  readonly maxReplicaCount?: number;
}

export interface TriggerCheck {
  readonly trigger: ExternalTrigger;
  readonly spec?: ScalerSpec;
  readonly problems: readonly ConfigProblem[];
  /** Legal, but probably not what was meant (the ScaledObject and the scaler disagree). */
  readonly warnings: readonly string[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The external triggers of every ScaledObject in a (multi-document) YAML file. Documents of
 * other kinds are skipped, so a whole kustomize output can be checked in one go.
 */
export function externalTriggersIn(yamlText: string, defaultNamespace = "default"): ExternalTrigger[] {
  const triggers: ExternalTrigger[] = [];
  for (const document of parseAllDocuments(yamlText)) {
    if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors[0]?.message}`);
    const object = document.toJS() as Json;
    if (!isObject(object) || object.kind !== "ScaledObject") continue;
    const meta = isObject(object.metadata) ? object.metadata : {};
    const spec = isObject(object.spec) ? object.spec : {};
    const name = typeof meta.name === "string" ? meta.name : "(unnamed)";
    const namespace = typeof meta.namespace === "string" ? meta.namespace : defaultNamespace;
    const list = Array.isArray(spec.triggers) ? spec.triggers : [];
    list.forEach((trigger, triggerIndex) => {
      if (!isObject(trigger) || (trigger.type !== "external" && trigger.type !== "external-push")) return;
      const metadata: Record<string, string> = {};
      if (isObject(trigger.metadata))
        // KEDA's trigger metadata is map[string]string: YAML numbers and booleans arrive as text.
        for (const [key, value] of Object.entries(trigger.metadata))
          metadata[key] = typeof value === "string" ? value : JSON.stringify(value);
      triggers.push({
        scaledObject: { name, namespace },
        triggerIndex,
        metadata,
        metricType: typeof trigger.metricType === "string" ? trigger.metricType : "AverageValue",
        minReplicaCount: typeof spec.minReplicaCount === "number" ? spec.minReplicaCount : undefined,
        maxReplicaCount: typeof spec.maxReplicaCount === "number" ? spec.maxReplicaCount : undefined,
      });
    });
  }
  return triggers;
}

/** Validates a trigger's metadata exactly as the running scaler would, plus ScaledObject consistency. */
export function checkTrigger(
  trigger: ExternalTrigger,
  env: Readonly<Record<string, string | undefined>>,
): TriggerCheck {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  if (!trigger.metadata.scalerAddress)
    problems.push({
      where: "scalerMetadata.scalerAddress",
      message: "scalerMetadata.scalerAddress is required: KEDA dials it (e.g. keda-llm-scaler.keda:6000)",
    });
  if (trigger.metricType !== "AverageValue")
    warnings.push(
      `metricType ${trigger.metricType}: the scaler's answer is a replica count for AverageValue with target 1; use AverageValue (the default)`,
    );
  if (trigger.minReplicaCount !== undefined && trigger.minReplicaCount > 0)
    warnings.push(
      `minReplicaCount ${trigger.minReplicaCount} keeps replicas up at night and at weekends; leave it at 0 and let the warm floor set the business-hours minimum`,
    );
  const { value: spec, problems: specProblems } = collectProblems(
    () => resolveScalerSpec(trigger.scaledObject, trigger.metadata, env).spec,
  );
  problems.push(...specProblems);
  if (spec && trigger.maxReplicaCount !== undefined && trigger.maxReplicaCount < spec.target.maxReplicas)
    warnings.push(
      `maxReplicaCount ${trigger.maxReplicaCount} is below the scaler's maxReplicas ${spec.target.maxReplicas}: the HPA will cap what the scaler asks for`,
    );
  return { trigger, spec, problems, warnings };
}
