import { policyGroups } from "./groups/policy.ts";
import { sourceSelectionGroup } from "./groups/sources.ts";
import { targetGroup } from "./groups/target.ts";
import {
  type CrossCheck,
  type GroupsValues,
  type RawInputs,
  type Resolved,
  resolveSettings,
  schemaFor,
} from "./resolve.ts";

/** Every per-ScaledObject setting, by group. Env gives defaults; scalerMetadata overrides. */
export const scalerSpecGroups = {
  target: targetGroup,
  sources: sourceSelectionGroup,
  ...policyGroups,
} as const;

type SpecValues = GroupsValues<typeof scalerSpecGroups>;

const crossChecks: CrossCheck<SpecValues>[] = [
  ({ target }) =>
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

/** The identity KEDA gives us: the ScaledObject, never the workload (contract §2.1). */
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

export function resolveScalerSpec(
  scaledObject: ScaledObjectIdentity,
  metadata: Readonly<Record<string, string>>,
  env: RawInputs["env"],
): { spec: ScalerSpec; provenance: Resolved<SpecValues>["provenance"] } {
  const resolved = resolveSettings(
    scalerSpecGroups,
    scalerSpecSchema,
    { metadata, env },
    { rejectUnknownKeys: true },
  );
  return { spec: { ...resolved.values, scaledObject }, provenance: resolved.provenance };
}
