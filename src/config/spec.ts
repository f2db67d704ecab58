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
import type { BusinessWindow, FloorOverride, FloorOverrides, WarmSchedule } from "./schedule.ts";
import { parseTenantRules, type TenantRule, tenantProblems } from "./tenancy.ts";

/** Every per-ScaledObject setting, by group. Env gives defaults; scalerMetadata overrides. */
export const scalerSpecGroups = {
  target: targetGroup,
  sources: sourceSelectionGroup,
  ...policyGroups,
} as const;

type SpecValues = GroupsValues<typeof scalerSpecGroups>;

/** A field that failed to parse still holds its raw string: the checks compare parsed values only. */
function numberOf(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The windows of a parsed schedule; none when the schedule is unset or failed to parse. */
function windowsOf(schedule: WarmSchedule | undefined): readonly BusinessWindow[] {
  const windows: unknown = (schedule as { windows?: unknown } | undefined)?.windows;
  return Array.isArray(windows) ? windows : [];
}

/** The entries of parsed overrides; none when unset or failed to parse. */
function overridesOf(overrides: FloorOverrides | undefined): readonly FloorOverride[] {
  const list: unknown = (overrides as { overrides?: unknown } | undefined)?.overrides;
  return Array.isArray(list) ? list : [];
}

/**
 * A count that can never be reached is a mistake in the configuration, not something to clamp
 * quietly at run time: the floor the user wrote would never hold.
 */
function aboveMax(
  where: { group: string; field: string; what: string; why?: string },
  replicas: unknown,
  maxReplicas: unknown,
): ReturnType<CrossCheck<SpecValues>> {
  const count = numberOf(replicas);
  const max = numberOf(maxReplicas);
  return count !== undefined && max !== undefined && count > max
    ? {
        group: where.group,
        field: where.field,
        message: `${where.what} (${count}) must be at most maxReplicas (${max})${where.why ?? ""}`,
      }
    : undefined;
}

const crossChecks: CrossCheck<SpecValues>[] = [
  ({ capacity }) => {
    // One token rate alone cannot turn tokens per request into requests per second.
    const prefill = numberOf(capacity.prefillTokensPerSecond);
    const decode = numberOf(capacity.decodeTokensPerSecond);
    if (prefill === undefined || decode === undefined || prefill > 0 === decode > 0) return undefined;
    const [set, unset] =
      prefill > 0
        ? ["prefillTokensPerSecondPerReplica", "decodeTokensPerSecondPerReplica"]
        : ["decodeTokensPerSecondPerReplica", "prefillTokensPerSecondPerReplica"];
    return {
      group: "capacity",
      field: prefill > 0 ? "decodeTokensPerSecond" : "prefillTokensPerSecond",
      message: `scalerMetadata.${set} is set, so scalerMetadata.${unset} must be set too (or both 0)`,
    };
  },
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
  ({ target, warmFloor }) =>
    // warmFloorReplicas only applies to windows written without their own count.
    windowsOf(warmFloor.schedule).some((window) => window.replicas === undefined)
      ? aboveMax(
          { group: "warmFloor", field: "replicas", what: "scalerMetadata.warmFloorReplicas" },
          warmFloor.replicas,
          target.maxReplicas,
        )
      : undefined,
  ({ target, warmFloor }) =>
    aboveMax(
      { group: "warmFloor", field: "outsideReplicas", what: "scalerMetadata.warmFloorOutsideReplicas" },
      warmFloor.outsideReplicas,
      target.maxReplicas,
    ),
  ({ target, warmFloor }) => {
    const max = numberOf(target.maxReplicas) ?? Number.POSITIVE_INFINITY;
    const window = windowsOf(warmFloor.schedule).find((w) => (w.replicas ?? 0) > max);
    return window
      ? aboveMax(
          {
            group: "warmFloor",
            field: "schedule",
            what: `scalerMetadata.warmFloorSchedule window "${window.text}"`,
          },
          window.replicas,
          max,
        )
      : undefined;
  },
  ({ target, warmFloor }) => {
    const max = numberOf(target.maxReplicas) ?? Number.POSITIVE_INFINITY;
    const override = overridesOf(warmFloor.overrides).find((o) => o.replicas > max);
    return override
      ? aboveMax(
          {
            group: "warmFloor",
            field: "overrides",
            what: `scalerMetadata.warmFloorOverrides "${override.text}"`,
          },
          override.replicas,
          max,
        )
      : undefined;
  },
  ({ warmFloor }) => {
    // Without a schedule there is no first region whose days an override could follow; UTC
    // would be a silent guess that is wrong by hours for most users, so the zone is asked for.
    const override =
      warmFloor.schedule === undefined
        ? overridesOf(warmFloor.overrides).find((o) => o.zone === undefined)
        : undefined;
    return override
      ? {
          group: "warmFloor",
          field: "overrides",
          message: `scalerMetadata.warmFloorOverrides "${override.text}" has no time zone and there is no warmFloorSchedule whose first region's zone it could use: write the zone first, e.g. "UTC ${override.text}" or "Europe/London ${override.text}"`,
        }
      : undefined;
  },
  ({ target, headroom }) =>
    target.role === "headroom"
      ? aboveMax(
          {
            group: "headroom",
            field: "spareReplicas",
            what: "scalerMetadata.spareReplicas",
            why: ": with role=headroom, maxReplicas bounds the placeholder pods",
          },
          headroom.spareReplicas,
          target.maxReplicas,
        )
      : undefined,
  ({ failStatic }) => {
    const hold = numberOf(failStatic.holdSeconds);
    const limit = numberOf(failStatic.unavailableAfterSeconds);
    return hold !== undefined && limit !== undefined && hold > limit
      ? {
          group: "failStatic",
          field: "holdSeconds",
          message: `scalerMetadata.failStaticHoldSeconds (${hold}) must be at most unavailableAfterSeconds (${limit}): a held reading would keep answering after KEDA's fallback should have taken over`,
        }
      : undefined;
  },
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
