import { policyGroups } from "./groups/policy.ts";
import { sourceSelectionGroup } from "./groups/sources.ts";
import { targetGroup } from "./groups/target.ts";
import {
  ConfigError,
  type CrossCheck,
  type GroupsValues,
  type RawInputs,
  type Resolved,
  resolveSettings,
  schemaFor,
} from "./resolve.ts";
import { parseTenantRules, type TenantRule, tenantProblems } from "./tenancy.ts";

/** Every per-ScaledObject setting, by group. Env gives defaults; scalerMetadata overrides. */
export const scalerSpecGroups = {
  target: targetGroup,
  sources: sourceSelectionGroup,
  ...policyGroups,
} as const;

type SpecValues = GroupsValues<typeof scalerSpecGroups>;

const crossChecks: CrossCheck<SpecValues>[] = [
  ({ target }) =>
    typeof target.maxReplicas === "number" &&
    typeof target.minReplicas === "number" &&
    target.maxReplicas < target.minReplicas
      ? {
          group: "target",
          field: "maxReplicas",
          message: `scalerMetadata.maxReplicas (${target.maxReplicas}) must be at least minReplicas (${target.minReplicas})`,
        }
      : undefined,
  ({ sources }) =>
    sources.serviceBusQueue !== undefined && sources.serviceBusTopic !== undefined
      ? {
          group: "sources",
          field: "serviceBusTopic",
          message:
            "scalerMetadata.serviceBusQueue and serviceBusTopic are exclusive: name a queue, or a topic and subscription",
        }
      : undefined,
  ({ sources }) =>
    (sources.serviceBusTopic === undefined) !== (sources.serviceBusSubscription === undefined)
      ? {
          group: "sources",
          field: "serviceBusSubscription",
          message:
            "scalerMetadata.serviceBusTopic and serviceBusSubscription go together: set both or neither",
        }
      : undefined,
];

const scalerSpecSchema = schemaFor(scalerSpecGroups, crossChecks);

/** The identity KEDA gives us: the ScaledObject, never the workload (KEDA's ScaledObjectRef carries only name, namespace and metadata). */
export interface ScaledObjectIdentity {
  readonly name: string;
  readonly namespace: string;
}

/** The one typed specification of how to scale one ScaledObject. */
export type ScalerSpec = SpecValues & { readonly scaledObject: ScaledObjectIdentity };

/**
 * Parses a ScaledObject's trigger metadata over the environment's defaults.
 * Throws ConfigError naming each bad key, its value and what is allowed.
 */
export function parseScalerSpec(
  scaledObject: ScaledObjectIdentity,
  metadata: Readonly<Record<string, string>>,
  env: RawInputs["env"],
): ScalerSpec {
  return resolveScalerSpec(scaledObject, metadata, env).spec;
}

/** The tenant rules in force, parsed once per distinct environment value. */
const tenantRuleCache = new Map<string, TenantRule[]>();

function tenantRulesFrom(env: RawInputs["env"], variable: string): TenantRule[] | undefined {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === "") return undefined;
  let rules = tenantRuleCache.get(raw);
  if (!rules) {
    try {
      rules = parseTenantRules(raw);
    } catch (error) {
      throw new ConfigError([
        { where: `env ${variable}`, message: `env ${variable}: ${(error as Error).message}` },
      ]);
    }
    if (tenantRuleCache.size > 16) tenantRuleCache.clear();
    tenantRuleCache.set(raw, rules);
  }
  return rules;
}

export function resolveScalerSpec(
  scaledObject: ScaledObjectIdentity,
  metadata: Readonly<Record<string, string>>,
  env: RawInputs["env"],
): { spec: ScalerSpec; provenance: Resolved<SpecValues>["provenance"]; raw: Resolved<SpecValues>["raw"] } {
  const resolved = resolveSettings(
    scalerSpecGroups,
    scalerSpecSchema,
    { metadata, env },
    { rejectUnknownKeys: true },
  );
  // A tenant may only name the queues and Azure resources the operator allowed its namespace.
  const problems = tenantProblems(
    { namespace: scaledObject.namespace, ...resolved.values.sources },
    {
      serviceBusEntities: tenantRulesFrom(env, "SERVICEBUS_ALLOWED_ENTITIES"),
      azureMonitorResources: tenantRulesFrom(env, "AZURE_MONITOR_ALLOWED_RESOURCES"),
    },
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return { spec: { ...resolved.values, scaledObject }, provenance: resolved.provenance, raw: resolved.raw };
}
