import { excerpt } from "./excerpt.ts";
import type { ConfigProblem } from "./resolve.ts";

/**
 * Which upstream objects a ScaledObject's namespace may read. PromQL is scoped to the namespace
 * by construction; Service Bus entities and Azure resources are named in metadata and read with
 * process-wide credentials, so without a rule any tenant could read another's queue depth.
 */
export interface TenantRule {
  /** Kubernetes namespace, or `*` for every namespace. */
  readonly namespace: string;
  /** An exact name, or a prefix when it ends with `*`. */
  readonly pattern: string;
}

const NAMESPACE = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/;

/** Parses `namespace=pattern,namespace=pattern…`; throws an Error naming the bad entry. */
export function parseTenantRules(raw: string): TenantRule[] {
  return raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const at = entry.indexOf("=");
      const namespace = entry.slice(0, at).trim();
      const pattern = entry.slice(at + 1).trim();
      if (at <= 0 || pattern === "" || !NAMESPACE.test(namespace))
        throw new Error(`entry ${excerpt(entry)} is not <namespace>=<name or prefix*>`);
      if (pattern.indexOf("*") !== -1 && pattern.indexOf("*") !== pattern.length - 1)
        throw new Error(`entry ${excerpt(entry)}: * may only end a pattern`);
      return { namespace, pattern };
    });
}

/** Whether `name` may be read from `namespace`. Resource IDs compare case-insensitively, as ARM does. */
export function tenantMayRead(
  rules: readonly TenantRule[],
  namespace: string,
  name: string,
  caseInsensitive = false,
): boolean {
  const subject = caseInsensitive ? name.toLowerCase() : name;
  return rules.some((rule) => {
    if (rule.namespace !== "*" && rule.namespace !== namespace) return false;
    const pattern = caseInsensitive ? rule.pattern.toLowerCase() : rule.pattern;
    return pattern.endsWith("*") ? subject.startsWith(pattern.slice(0, -1)) : subject === pattern;
  });
}

export interface TenantLimits {
  /** SERVICEBUS_ALLOWED_ENTITIES; undefined: no restriction (single-tenant scaler). */
  readonly serviceBusEntities?: readonly TenantRule[];
  /** AZURE_MONITOR_ALLOWED_RESOURCES; undefined: no restriction. */
  readonly azureMonitorResources?: readonly TenantRule[];
}

/** What one ScaledObject names upstream, in the form the rules are written in. */
export interface NamedUpstream {
  readonly namespace: string;
  readonly serviceBusQueue?: string;
  readonly serviceBusTopic?: string;
  readonly serviceBusSubscription?: string;
  readonly azureMonitorResourceIds?: string;
}

/** The metadata values a tenant may not use, each named with the rule that refuses it. */
export function tenantProblems(upstream: NamedUpstream, limits: TenantLimits): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { namespace } = upstream;
  if (limits.serviceBusEntities) {
    const entity = upstream.serviceBusQueue
      ? { key: "serviceBusQueue", name: upstream.serviceBusQueue }
      : upstream.serviceBusTopic && upstream.serviceBusSubscription
        ? { key: "serviceBusTopic", name: `${upstream.serviceBusTopic}/${upstream.serviceBusSubscription}` }
        : undefined;
    if (entity && !tenantMayRead(limits.serviceBusEntities, namespace, entity.name))
      problems.push({
        where: `scalerMetadata.${entity.key}`,
        message: `scalerMetadata.${entity.key}: Service Bus entity ${excerpt(entity.name)} is not allowed for namespace ${namespace} by env SERVICEBUS_ALLOWED_ENTITIES`,
      });
  }
  if (limits.azureMonitorResources && upstream.azureMonitorResourceIds)
    for (const id of upstream.azureMonitorResourceIds.split(","))
      if (!tenantMayRead(limits.azureMonitorResources, namespace, id, true))
        problems.push({
          where: "scalerMetadata.azureMonitorResourceIds",
          message: `scalerMetadata.azureMonitorResourceIds: ${excerpt(id, 200)} is not allowed for namespace ${namespace} by env AZURE_MONITOR_ALLOWED_RESOURCES`,
        });
  return problems;
}
