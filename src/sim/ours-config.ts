import { parseAllDocuments } from "yaml";
import {
  DEFAULT_HPA_BEHAVIOR,
  type HpaBehavior,
  type HpaScalingPolicy,
  type HpaScalingRules,
} from "./hpa.ts";
import { OURS_REALTIME_SCALED_OBJECT, type OursDeployment } from "./policies.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function wholeNumber(where: string, value: Json | undefined, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    throw new Error(`${where} must be a whole number ≥ 0, got ${JSON.stringify(value)}`);
  return value;
}

function rules(where: string, raw: Json | undefined, defaults: HpaScalingRules): HpaScalingRules {
  if (raw === undefined || raw === null) return defaults;
  if (!isObject(raw)) throw new Error(`${where} must be a mapping`);
  const select = raw.selectPolicy ?? defaults.selectPolicy;
  if (select !== "Max" && select !== "Min" && select !== "Disabled")
    throw new Error(`${where}.selectPolicy must be Max, Min or Disabled, got ${JSON.stringify(select)}`);
  let policies: HpaScalingPolicy[] = [...defaults.policies];
  if (raw.policies !== undefined) {
    if (!Array.isArray(raw.policies)) throw new Error(`${where}.policies must be a list`);
    policies = raw.policies.map((p, i) => {
      const at = `${where}.policies[${i}]`;
      if (!isObject(p) || (p.type !== "Pods" && p.type !== "Percent"))
        throw new Error(`${at}.type must be Pods or Percent`);
      return {
        type: p.type,
        value: wholeNumber(`${at}.value`, p.value, 0),
        periodSeconds: wholeNumber(`${at}.periodSeconds`, p.periodSeconds, 15),
      };
    });
  }
  return {
    stabilizationWindowSeconds: wholeNumber(
      `${where}.stabilizationWindowSeconds`,
      raw.stabilizationWindowSeconds,
      defaults.stabilizationWindowSeconds,
    ),
    selectPolicy: select,
    policies,
  };
}

/**
 * `--config FILE` for `ours`: either a ScaledObject manifest (its first external trigger's
 * metadata, polling, cooldown, min/max, fallback and HPA behaviour, as KEDA would apply them) or
 * a plain mapping of scalerMetadata keys over the realtime example's ScaledObject.
 */
export function oursDeploymentFromYaml(yamlText: string, file: string): OursDeployment {
  const documents = parseAllDocuments(yamlText);
  for (const document of documents)
    if (document.errors.length > 0) throw new Error(`${file}: invalid YAML: ${document.errors[0]?.message}`);
  const objects = documents.map((d) => d.toJS() as Json);
  const scaledObject = objects.find((o) => isObject(o) && o.kind === "ScaledObject");
  if (isObject(scaledObject)) return fromScaledObject(scaledObject, file);
  const mapping = objects[0];
  if (!isObject(mapping))
    throw new Error(`${file}: expected a ScaledObject or a mapping of scalerMetadata keys to values`);
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(mapping)) metadata[key] = text(value);
  return { ...OURS_REALTIME_SCALED_OBJECT, metadata };
}

function fromScaledObject(object: { [key: string]: Json }, file: string): OursDeployment {
  const spec = isObject(object.spec) ? object.spec : {};
  const triggers = Array.isArray(spec.triggers) ? spec.triggers : [];
  const trigger = triggers.find(
    (t) => isObject(t) && (t.type === "external" || t.type === "external-push"),
  ) as { [key: string]: Json } | undefined;
  if (!trigger) throw new Error(`${file}: the ScaledObject has no external trigger to simulate as "ours"`);
  const metadata: Record<string, string> = {};
  if (isObject(trigger.metadata))
    for (const [key, value] of Object.entries(trigger.metadata)) metadata[key] = text(value);
  const advanced = isObject(spec.advanced) ? spec.advanced : {};
  const hpaConfig = isObject(advanced.horizontalPodAutoscalerConfig)
    ? advanced.horizontalPodAutoscalerConfig
    : {};
  const rawBehavior = hpaConfig.behavior;
  let behavior: HpaBehavior | undefined;
  if (isObject(rawBehavior))
    behavior = {
      scaleUp: rules("behavior.scaleUp", rawBehavior.scaleUp, DEFAULT_HPA_BEHAVIOR.scaleUp),
      scaleDown: rules("behavior.scaleDown", rawBehavior.scaleDown, DEFAULT_HPA_BEHAVIOR.scaleDown),
    };
  const fallback = isObject(spec.fallback)
    ? {
        failureThreshold: wholeNumber("spec.fallback.failureThreshold", spec.fallback.failureThreshold, 3),
        replicas: wholeNumber("spec.fallback.replicas", spec.fallback.replicas, 0),
      }
    : undefined;
  // KEDA's defaults where the manifest is silent: polling 30 s, cooldown 300 s, min 0, max 100.
  return {
    metadata,
    pollingIntervalMs: wholeNumber("spec.pollingInterval", spec.pollingInterval, 30) * 1000,
    cooldownMs: wholeNumber("spec.cooldownPeriod", spec.cooldownPeriod, 300) * 1000,
    minReplicaCount: wholeNumber("spec.minReplicaCount", spec.minReplicaCount, 0),
    maxReplicaCount: wholeNumber("spec.maxReplicaCount", spec.maxReplicaCount, 100),
    ...(behavior ? { behavior } : {}),
    ...(fallback ? { fallback } : {}),
  };
}
