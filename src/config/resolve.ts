import { z } from "zod";
import { excerpt } from "./excerpt.ts";
import type { GroupValues, Setting, SettingsGroup } from "./setting.ts";

export type Groups = Readonly<Record<string, SettingsGroup>>;
export type GroupsValues<G extends Groups> = { -readonly [N in keyof G]: GroupValues<G[N]> };

/** Where a resolved value came from: printed by `check-config`, used to word errors. */
export type Provenance = "metadata" | "env" | "default" | "unset";

export interface RawInputs {
  /** The trigger's scalerMetadata (per-ScaledObject overrides). */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface ConfigProblem {
  /** `scalerMetadata.<key>` or `env <NAME>`: what the user has to change. */
  readonly where: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map((p) => p.message).join("; "));
    this.problems = problems;
    this.name = "ConfigError";
  }
}

/** Runs a configuration step and returns its value, or the problems its ConfigError names. */
export function collectProblems<T>(load: () => T): { value?: T; problems: readonly ConfigProblem[] } {
  try {
    return { value: load(), problems: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { problems: error.problems };
  }
}

/**
 * A rule across settings ("maxReplicas must be at least minReplicas"). Returns the problem's
 * message, naming the keys involved, or undefined when the rule holds.
 */
export type CrossCheck<V> = (values: V) => { field: string; group: string; message: string } | undefined;

/** Keys that KEDA itself puts into scalerMetadata for every external trigger, whatever the user wrote. */
export const KEDA_OWN_METADATA_KEYS: ReadonlySet<string> = new Set([
  "scalerAddress",
  "enableTLS",
  "unsafeSsl",
  "caCert",
  "tlsClientCert",
  "tlsClientKey",
  "tlsCertFile",
]);

/** KEDA resolves `<key>FromEnv` from the scale target's container env and keeps the suffixed name. */
const FROM_ENV_SUFFIX = "FromEnv";

interface ResolvedValue {
  readonly raw: string | undefined;
  readonly provenance: Provenance;
}

export interface Resolved<V> {
  readonly values: V;
  readonly provenance: Readonly<Record<string, Readonly<Record<string, Provenance>>>>;
  /** The strings as given ("" when unset), for showing a setting the way the user wrote it. */
  readonly raw: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * Builds the one zod schema for a set of groups: nested objects of string-parsing settings,
 * with the cross-field checks as a superRefine. Built once per configuration shape.
 */
export function schemaFor<G extends Groups>(groups: G, checks: readonly CrossCheck<GroupsValues<G>>[] = []) {
  const shape: Record<string, z.ZodType> = {};
  for (const [groupName, group] of Object.entries(groups)) {
    const fields: Record<string, z.ZodType> = {};
    for (const [field, definition] of Object.entries(group)) fields[field] = definition.type.schema;
    shape[groupName] = z.object(fields);
  }
  // Cross-checks run even when some field failed, so every problem is named at once; a check
  // must therefore test the types it compares (a field that failed still holds its raw string).
  return z.object(shape).superRefine(
    (values, ctx) => {
      for (const check of checks) {
        const problem = check(values as GroupsValues<G>);
        if (problem)
          ctx.addIssue({
            code: "custom",
            path: [problem.group, problem.field],
            message: problem.message,
            params: { crossCheck: true },
          });
      }
    },
    { when: () => true },
  ) as unknown as z.ZodType<GroupsValues<G>, Record<string, Record<string, string>>>;
}

function resolveRaw(definition: Setting, inputs: RawInputs): ResolvedValue {
  if (definition.key !== undefined && inputs.metadata) {
    // An empty value counts as "not provided", as KEDA does for an empty `…FromEnv`.
    const direct = inputs.metadata[definition.key];
    if (direct !== undefined && direct.trim() !== "") return { raw: direct, provenance: "metadata" };
    const fromEnv = inputs.metadata[definition.key + FROM_ENV_SUFFIX];
    if (fromEnv !== undefined && fromEnv !== "") return { raw: fromEnv, provenance: "metadata" };
  }
  const fromProcess = inputs.env[definition.env];
  if (fromProcess !== undefined && fromProcess !== "") return { raw: fromProcess, provenance: "env" };
  if (definition.default !== undefined) return { raw: definition.default, provenance: "default" };
  return { raw: undefined, provenance: "unset" };
}

export function describeWhere(definition: Setting, provenance: Provenance): string {
  if (provenance === "metadata" && definition.key !== undefined) return `scalerMetadata.${definition.key}`;
  if (provenance === "default") return `the default of ${definition.env}`;
  return `env ${definition.env}`;
}

function quoted(definition: Setting, raw: string | undefined): string {
  if (raw === undefined || raw === "") return "nothing";
  if (definition.secret) return "a value (redacted)";
  return excerpt(raw);
}

function unknownKeyProblems(groups: Groups, metadata: Readonly<Record<string, string>>): ConfigProblem[] {
  const known = new Set<string>();
  for (const group of Object.values(groups))
    for (const definition of Object.values(group)) if (definition.key) known.add(definition.key);
  const problems: ConfigProblem[] = [];
  for (const key of Object.keys(metadata)) {
    if (KEDA_OWN_METADATA_KEYS.has(key) || known.has(key)) continue;
    if (key.endsWith(FROM_ENV_SUFFIX) && known.has(key.slice(0, -FROM_ENV_SUFFIX.length))) continue;
    const suggestion = closestKey(key, known);
    problems.push({
      where: `scalerMetadata.${key}`,
      message: `scalerMetadata has an unknown key ${excerpt(key)}${
        suggestion ? ` (did you mean "${suggestion}"?)` : ""
      }`,
    });
  }
  return problems;
}

/**
 * Resolves every setting (metadata over env over default), parses the lot with the groups'
 * schema and returns typed values, or throws a ConfigError listing every problem found.
 */
export function resolveSettings<G extends Groups>(
  groups: G,
  schema: z.ZodType<GroupsValues<G>, Record<string, Record<string, string>>>,
  inputs: RawInputs,
  options: { rejectUnknownKeys: boolean },
): Resolved<GroupsValues<G>> {
  const rawInput: Record<string, Record<string, string>> = {};
  const provenance: Record<string, Record<string, Provenance>> = {};
  const resolvedBySetting = new Map<string, { definition: Setting; resolved: ResolvedValue }>();
  for (const [groupName, group] of Object.entries(groups)) {
    rawInput[groupName] = {};
    provenance[groupName] = {};
    for (const [field, definition] of Object.entries(group)) {
      const resolved = resolveRaw(definition, inputs);
      rawInput[groupName][field] = resolved.raw ?? "";
      provenance[groupName][field] = resolved.provenance;
      resolvedBySetting.set(`${groupName}.${field}`, { definition, resolved });
    }
  }

  const problems =
    options.rejectUnknownKeys && inputs.metadata ? unknownKeyProblems(groups, inputs.metadata) : [];
  const parsed = schema.safeParse(rawInput);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const entry = resolvedBySetting.get(issue.path.slice(0, 2).join("."));
      if (!entry) {
        problems.push({ where: issue.path.join("."), message: issue.message });
        continue;
      }
      const { definition, resolved } = entry;
      const where = describeWhere(definition, resolved.provenance);
      const isCrossCheck = issue.code === "custom" && issue.params?.crossCheck === true;
      let message: string;
      if (isCrossCheck) message = issue.message;
      else if (resolved.raw === undefined || resolved.raw.trim() === "") {
        const names = definition.key
          ? `scalerMetadata.${definition.key} (or env ${definition.env})`
          : `env ${definition.env}`;
        message = `${names} is required: ${definition.type.allowed}`;
      } else message = `${where} must be ${issue.message}, got ${quoted(definition, resolved.raw)}`;
      problems.push({ where, message });
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return { values: parsed.data, provenance, raw: rawInput };
}

/** Edit distance, for "did you mean" on a mistyped metadata key. */
function closestKey(key: string, known: ReadonlySet<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(key.length / 4)) + 1;
  const lowered = key.toLowerCase();
  for (const candidate of known) {
    const distance = editDistance(lowered, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string, giveUpAt: number): number {
  if (Math.abs(a.length - b.length) >= giveUpAt || a.length > 200 || b.length > 200) return giveUpAt;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}
