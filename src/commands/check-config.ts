import { readFileSync } from "node:fs";
import { type ConfigProblem, collectProblems, type Provenance, type Resolved } from "../config/resolve.ts";
import { checkTrigger, externalTriggersIn, type TriggerCheck } from "../config/scaledobject.ts";
import { resolveServiceConfig, serviceConfigGroups } from "../config/service-config.ts";
import type { Setting } from "../config/setting.ts";
import { resolveScalerSpec, scalerSpecGroups } from "../config/spec.ts";

const USAGE = `usage: keda-llm-scaler check-config [--scaledobject FILE.yaml]... [--json]

Validates the environment exactly as 'serve' would and prints every resolved setting and where it
came from (secrets redacted). With --scaledobject, also validates the external triggers of every
ScaledObject in FILE (multi-document YAML, e.g. kustomize output) against that environment.
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

interface Report {
  readonly valid: boolean;
  readonly environment: { problems: readonly ConfigProblem[]; settings: SettingLine[] };
  readonly scaledObjectDefaults: { problems: readonly ConfigProblem[]; settings: SettingLine[] };
  readonly triggers: readonly {
    scaledObject: string;
    trigger: number;
    problems: readonly ConfigProblem[];
    warnings: readonly string[];
  }[];
}

function buildReport(env: Env, files: readonly string[]): Report {
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
    externalTriggersIn(readFileSync(file, "utf8")).map((trigger) => checkTrigger(trigger, env)),
  );
  const triggers = checks.map((check) => ({
    scaledObject: `${check.trigger.scaledObject.namespace}/${check.trigger.scaledObject.name}`,
    trigger: check.trigger.triggerIndex,
    problems: check.problems,
    warnings: check.warnings,
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
  }
  out.push(report.valid ? "Configuration is valid." : "Configuration is INVALID.");
  return `${out.join("\n")}\n`;
}

export async function run(argv: string[], env: Env = process.env): Promise<number> {
  const files: string[] = [];
  let json = false;
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
    } else {
      process.stderr.write(`unexpected argument ${JSON.stringify(arg)}\n\n${USAGE}`);
      return 2;
    }
  }
  let report: Report;
  try {
    report = buildReport(env, files);
  } catch (error) {
    process.stderr.write(`check-config: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : text(report, files));
  return report.valid ? 0 : 1;
}
