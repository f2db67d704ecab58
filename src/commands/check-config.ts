import { readFileSync } from "node:fs";
import { kustomizeNamespaceOf } from "../config/kustomize-namespace.ts";
import {
  type ConfigProblem,
  collectProblems,
  KEDA_OWN_METADATA_KEYS,
  type Provenance,
  type Resolved,
} from "../config/resolve.ts";
import {
  checkTrigger,
  type ExternalTrigger,
  externalTriggersIn,
  type TriggerCheck,
} from "../config/scaledobject.ts";
import { resolveServiceConfig, serviceConfigGroups } from "../config/service-config.ts";
import type { Setting } from "../config/setting.ts";
import { resolveScalerSpec, scalerSpecGroups } from "../config/spec.ts";

const USAGE = `usage: keda-llm-scaler check-config [--scaledobject FILE.yaml]... [--namespace NS] [--json]

Validates the environment exactly as 'serve' would and prints every resolved setting and where it
came from (secrets redacted). With --scaledobject, also validates the external triggers of every
ScaledObject in FILE (multi-document YAML, e.g. kustomize output) against that environment, and
prints what each trigger sets itself. Their namespace (which tenancy rules depend on) is --namespace,
else that of a kustomization.yaml beside FILE that lists it, else the manifest's, else default.
Exit status: 0 valid, 1 invalid, 2 usage error.
`;

type Env = Readonly<Record<string, string | undefined>>;

interface SettingLine {
  readonly name: string;
  readonly value: string;
  readonly from: Provenance;
}

/** The value as the user wrote it (a parsed schedule would print as an object), secrets redacted. */
function shown(setting: Setting, raw: string | undefined): string {
  if (raw === undefined || raw === "") return "(unset)";
  return setting.secret ? "(set, redacted)" : raw;
}

function settingLines(
  groups: Readonly<Record<string, Readonly<Record<string, Setting>>>>,
  resolved: Pick<Resolved<unknown>, "provenance" | "raw">,
  nameOf: (setting: Setting) => string,
): SettingLine[] {
  return Object.entries(groups).flatMap(([group, settings]) =>
    Object.entries(settings).map(([field, setting]) => ({
      name: nameOf(setting),
      value: shown(setting, resolved.raw[group]?.[field]),
      from: resolved.provenance[group]?.[field] ?? "unset",
    })),
  );
}

const SPEC_SETTINGS: readonly Setting[] = Object.values(scalerSpecGroups).flatMap((group) =>
  Object.values(group as Readonly<Record<string, Setting>>),
);

/**
 * What a trigger's own metadata sets, in the order of the settings table. These override the
 * environment's defaults for that ScaledObject only, so the defaults alone would misreport it.
 * Keys KEDA adds itself (scalerAddress) are shown too; unknown keys are already reported as problems.
 */
function triggerSettings(metadata: Readonly<Record<string, string>>): SettingLine[] {
  const own = SPEC_SETTINGS.filter((s) => s.key !== undefined && metadata[s.key] !== undefined).map(
    (s): SettingLine => ({ name: s.key ?? "", value: shown(s, metadata[s.key ?? ""]), from: "metadata" }),
  );
  const keda = Object.keys(metadata)
    .filter((key) => KEDA_OWN_METADATA_KEYS.has(key))
    .map((key): SettingLine => ({ name: key, value: metadata[key] ?? "", from: "metadata" }));
  return [...keda, ...own];
}

interface Report {
  readonly valid: boolean;
  readonly environment: { problems: readonly ConfigProblem[]; settings: SettingLine[] };
  readonly scaledObjectDefaults: { problems: readonly ConfigProblem[]; settings: SettingLine[] };
  readonly triggers: readonly {
    scaledObject: string;
    trigger: number;
    problems: readonly ConfigProblem[];
    warnings: readonly string[];
    /** Set by the trigger's metadata; everything else comes from scaledObjectDefaults. */
    settings: SettingLine[];
  }[];
}

function triggersOf(file: string, namespace: string | undefined): ExternalTrigger[] {
  const forced = namespace ?? kustomizeNamespaceOf(file);
  return externalTriggersIn(readFileSync(file, "utf8")).map((trigger) =>
    forced ? { ...trigger, scaledObject: { ...trigger.scaledObject, namespace: forced } } : trigger,
  );
}

function buildReport(env: Env, files: readonly string[], namespace?: string): Report {
  const service = collectProblems(() =>
    settingLines(serviceConfigGroups, resolveServiceConfig(env), (s) => s.env),
  );
  // Every ScaledObject starts from the environment's defaults: a bad MAX_REPLICAS is caught here,
  // at startup, rather than on the first poll of every ScaledObject.
  const defaults = collectProblems(() => {
    const resolved = resolveScalerSpec({ name: "defaults", namespace: "default" }, {}, env);
    return settingLines(scalerSpecGroups, resolved, (s) => `${s.key ?? ""} (${s.env})`);
  });
  const checks: TriggerCheck[] = files.flatMap((file) =>
    triggersOf(file, namespace).map((trigger) => checkTrigger(trigger, env)),
  );
  const triggers = checks.map((check) => ({
    scaledObject: `${check.trigger.scaledObject.namespace}/${check.trigger.scaledObject.name}`,
    trigger: check.trigger.triggerIndex,
    problems: check.problems,
    warnings: check.warnings,
    settings: triggerSettings(check.trigger.metadata),
  }));
  const valid =
    service.problems.length === 0 &&
    defaults.problems.length === 0 &&
    triggers.every((t) => t.problems.length === 0);
  return {
    valid,
    environment: { problems: service.problems, settings: service.value ?? [] },
    scaledObjectDefaults: { problems: defaults.problems, settings: defaults.value ?? [] },
    triggers,
  };
}

function printSettings(title: string, lines: readonly SettingLine[]): string[] {
  if (lines.length === 0) return [];
  const width = Math.max(...lines.map((l) => l.name.length));
  return [title, ...lines.map((l) => `  ${l.name.padEnd(width)}  ${l.value}  [${l.from}]`), ""];
}

function printProblems(title: string, problems: readonly ConfigProblem[]): string[] {
  return problems.length === 0 ? [] : [title, ...problems.map((p) => `  ✗ ${p.message}`), ""];
}

function text(report: Report, files: readonly string[]): string {
  const out = [
    ...printProblems("Environment: invalid", report.environment.problems),
    ...printSettings("Environment (process-wide):", report.environment.settings),
    ...printProblems(
      "ScaledObject defaults from the environment: invalid",
      report.scaledObjectDefaults.problems,
    ),
    ...printSettings("ScaledObject defaults (metadata key (env)):", report.scaledObjectDefaults.settings),
  ];
  if (files.length > 0 && report.triggers.length === 0)
    out.push(`No external triggers found in ${files.join(", ")}.`, "");
  for (const t of report.triggers) {
    const verdict = t.problems.length === 0 ? "valid" : "invalid";
    out.push(`ScaledObject ${t.scaledObject}, trigger ${t.trigger}: ${verdict}`);
    for (const p of t.problems) out.push(`  ✗ ${p.message}`);
    for (const w of t.warnings) out.push(`  ! ${w}`);
    const width = Math.max(0, ...t.settings.map((l) => l.name.length));
    if (t.settings.length > 0) out.push("  set by the trigger (every other setting as the defaults above):");
    for (const l of t.settings) out.push(`    ${l.name.padEnd(width)}  ${l.value}`);
    out.push("");
  }
  out.push(report.valid ? "Configuration is valid." : "Configuration is INVALID.");
  return `${out.join("\n")}\n`;
}

export async function run(argv: string[], env: Env = process.env): Promise<number> {
  const files: string[] = [];
  let json = false;
  let namespace: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(USAGE);
      return 0;
    }
    if (arg === "--json") json = true;
    else if (arg === "--scaledobject") {
      const file = argv[++i];
      if (!file) {
        process.stderr.write(`--scaledobject needs a file name\n\n${USAGE}`);
        return 2;
      }
      files.push(file);
    } else if (arg === "--namespace") {
      namespace = argv[++i];
      if (!namespace) {
        process.stderr.write(`--namespace needs a namespace\n\n${USAGE}`);
        return 2;
      }
    } else {
      process.stderr.write(`unexpected argument ${JSON.stringify(arg)}\n\n${USAGE}`);
      return 2;
    }
  }
  let report: Report;
  try {
    report = buildReport(env, files, namespace);
  } catch (error) {
    process.stderr.write(`check-config: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : text(report, files));
  return report.valid ? 0 : 1;
}
