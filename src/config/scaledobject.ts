import { parseAllDocuments } from "yaml";
import { ECHO_LIMIT, excerpt } from "./excerpt.ts";
import { type CustomQueryKey, sourceSelectionGroup } from "./groups/sources.ts";
import { type ConfigProblem, collectProblems } from "./resolve.ts";
import { loadServiceConfig } from "./service-config.ts";
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
  /** Metadata keys whose YAML value is not a string (a bare 8 or true): KEDA's CRD refuses them. */
  readonly unquotedKeys?: readonly string[];
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
      const unquotedKeys: string[] = [];
      if (isObject(trigger.metadata))
        // KEDA's trigger metadata is map[string]string and its CRD declares every value a string, so
        // the API server refuses a bare number or boolean. Read it as text here (explain still works)
        // and let checkTrigger say so.
        for (const [key, value] of Object.entries(trigger.metadata)) {
          metadata[key] = typeof value === "string" ? value : JSON.stringify(value);
          if (typeof value !== "string") unquotedKeys.push(key);
        }
      triggers.push({
        scaledObject: { name, namespace },
        triggerIndex,
        metadata,
        metricType: typeof trigger.metricType === "string" ? trigger.metricType : "AverageValue",
        minReplicaCount: typeof spec.minReplicaCount === "number" ? spec.minReplicaCount : undefined,
        maxReplicaCount: typeof spec.maxReplicaCount === "number" ? spec.maxReplicaCount : undefined,
        ...(unquotedKeys.length > 0 ? { unquotedKeys } : {}),
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
  for (const key of trigger.unquotedKeys ?? []) {
    const name = key.length > ECHO_LIMIT ? `${key.slice(0, ECHO_LIMIT)}…` : key;
    const value = trigger.metadata[key] ?? "";
    warnings.push(
      value === "null"
        ? `scalerMetadata.${name} has no value in the YAML: KEDA's ScaledObject takes only strings, so the API server refuses it; give it a quoted value or remove it`
        : `scalerMetadata.${name} is not a string in the YAML: KEDA's ScaledObject takes only strings, so the API server refuses it; quote the value: ${name}: ${excerpt(value)}`,
    );
  }
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
  if (spec) warnings.push(...looseTtftTarget(spec), ...serviceMismatches(trigger, spec, env));
  return { trigger, spec, problems, warnings };
}

/** A TTFT target above the SLA lets the P95 sit where the slowest twentieth breaks the SLA. */
function looseTtftTarget(spec: ScalerSpec): string[] {
  const { ttft, queue } = spec;
  if (!ttft.enabled || queue.mode !== "drain" || ttft.targetSeconds <= queue.latencySlaSeconds) return [];
  return [
    `ttftTargetSeconds ${ttft.targetSeconds} is above latencySlaSeconds ${queue.latencySlaSeconds}: a P95 under the target can still break the SLA for the slowest twentieth; hold the P95 to at most the SLA (the realtime example holds it to half)`,
  ];
}

const CUSTOM_QUERY_KEYS: readonly CustomQueryKey[] = [
  "waitingQuery",
  "runningQuery",
  "ttftP95Query",
  "ttftRateQuery",
  "kvCacheQuery",
  "gpuQuery",
  "tokensPerSecondQuery",
];

/**
 * What the ScaledObject asks of the service that the service, configured by `env`, will refuse:
 * valid metadata, but every poll would answer from a failed signal. Nothing when the environment
 * itself is invalid (that is reported on its own).
 */
function serviceMismatches(
  trigger: ExternalTrigger,
  spec: ScalerSpec,
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const service = collectProblems(() => loadServiceConfig(env)).value;
  if (!service) return [];
  const warnings: string[] = [];
  const whereSet = (key: string, envName: string) =>
    trigger.metadata[key] !== undefined ? `scalerMetadata.${key}` : `env ${envName}`;
  const { serviceBusQueue, serviceBusTopic } = spec.sources;
  if (
    spec.queue.enabled &&
    (serviceBusQueue !== undefined || serviceBusTopic !== undefined) &&
    !service.serviceBus.connectionString &&
    !service.serviceBus.namespace
  ) {
    const where =
      serviceBusQueue !== undefined
        ? whereSet("serviceBusQueue", "SERVICEBUS_QUEUE")
        : whereSet("serviceBusTopic", "SERVICEBUS_TOPIC");
    warnings.push(
      `${where} names a Service Bus entity, but Service Bus is not configured on the service (env SERVICEBUS_CONNECTION_STRING, or SERVICEBUS_NAMESPACE for Entra ID): the backlog signal would fail as not_configured on every poll`,
    );
  }
  if (!service.prometheus.allowCustomQueries)
    for (const key of CUSTOM_QUERY_KEYS)
      if (spec.sources[key] !== undefined)
        warnings.push(
          `${whereSet(key, sourceSelectionGroup[key].env)} is set, but custom queries are off on the service (env ALLOW_CUSTOM_QUERIES=true enables them): the scaler refuses it (forbidden_query), never falling back to the built query`,
        );
  return warnings;
}
