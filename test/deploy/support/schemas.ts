import { join } from "node:path";
import ts from "typescript";
import type { Manifest } from "./kustomize.ts";
import { REPO_ROOT } from "./kustomize.ts";

/**
 * Offline schema validation of rendered manifests, unknown fields rejected.
 *
 * The models come from npm packages generated from the Kubernetes OpenAPI and the CRDs
 * (kubernetes-models, @kubernetes-models/keda, .../prometheus-operator, .../cert-manager,
 * .../karpenter). Two checks:
 *  1. each model's own validate() (ajv over the JSON schema: types, required fields, formats);
 *  2. strictness: those JSON schemas allow unknown properties (as the API server does, silently
 *     dropping them), so a typo like `readOnlyRootFilesytem` would pass. Each object is therefore also
 *     compiled as a TypeScript object literal typed with the model's interface: an excess-property
 *     error is an unknown field, at any depth.
 *
 * The model packages (kubernetes-models 5, @kubernetes-models/keda 2) know KEDA 2.17's
 * `advanced.scalingModifiers`, `fallback.behavior` and `initialCooldownPeriod`, so every field of a
 * shipped ScaledObject is checked. They are ES modules only: models are found by importing them.
 */

/** API group → the package holding its models. Core and built-in groups live in kubernetes-models. */
const PACKAGE_BY_GROUP: Record<string, string> = {
  "": "kubernetes-models",
  apps: "kubernetes-models",
  policy: "kubernetes-models",
  "networking.k8s.io": "kubernetes-models",
  "scheduling.k8s.io": "kubernetes-models",
  "rbac.authorization.k8s.io": "kubernetes-models",
  batch: "kubernetes-models",
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "karpenter.sh": "@kubernetes-models/karpenter",
  "karpenter.k8s.aws": "@kubernetes-models/karpenter",
};

/**
 * Azure Monitor managed Prometheus serves the Prometheus Operator's ServiceMonitor schema under its
 * own group; no npm package ships it, so it is checked against the upstream model it copies.
 */
const SCHEMA_ALIASES: Record<string, string> = {
  "azmonitoring.coreos.com/v1": "monitoring.coreos.com/v1",
};

export interface SchemaProblem {
  readonly object: string;
  readonly message: string;
}

interface ModelRef {
  readonly module: string;
  readonly interfaceName: string;
}

function describe(manifest: Manifest): string {
  const ns = manifest.metadata?.namespace ? `${manifest.metadata.namespace}/` : "";
  return `${manifest.apiVersion} ${manifest.kind} ${ns}${manifest.metadata?.name ?? "(unnamed)"}`;
}

function modelFor(apiVersion: string, kind: string): ModelRef | undefined {
  const effective = SCHEMA_ALIASES[apiVersion] ?? apiVersion;
  const [group, version] = effective.includes("/") ? effective.split("/", 2) : ["", effective];
  const pkg = PACKAGE_BY_GROUP[group ?? ""];
  if (!pkg || !version || !/^[A-Za-z]+$/.test(kind)) return undefined;
  const path = group ? `${group}/${version}` : version;
  return { module: `${pkg}/${path}/${kind}`, interfaceName: `I${kind}` };
}

type ModelClass = new (data: unknown) => { validate(): void };

/** The model class, or undefined when no package exports that apiVersion/kind. */
async function loadModel(ref: ModelRef): Promise<ModelClass | undefined> {
  try {
    const module = (await import(ref.module)) as Record<string, ModelClass>;
    return module[ref.interfaceName.slice(1)];
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return undefined;
    throw error;
  }
}

/** The model class's validate(): throws with ajv's message (path and reason) when invalid. */
function runtimeValidate(manifest: Manifest, Model: ModelClass): string | undefined {
  const alias = SCHEMA_ALIASES[manifest.apiVersion];
  const data = alias ? { ...manifest, apiVersion: alias } : manifest;
  try {
    new Model(data).validate();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** One in-memory TypeScript program: `const m0: IDeployment = {...};` for every object. */
function strictFieldCheck(items: { manifest: Manifest; ref: ModelRef }[]): SchemaProblem[] {
  const fileName = join(REPO_ROOT, "test/deploy/__manifests_strict_check.ts");
  const lines: string[] = [];
  const spans: { start: number; end: number; object: string }[] = [];
  items.forEach(({ ref }, index) => {
    lines.push(`import type { ${ref.interfaceName} as T${index} } from "${ref.module}";`);
  });
  let offset = lines.join("\n").length + 1;
  const body: string[] = [];
  items.forEach(({ manifest }, index) => {
    const alias = SCHEMA_ALIASES[manifest.apiVersion];
    const data = alias ? { ...manifest, apiVersion: alias } : manifest;
    const statement = `export const m${index}: T${index} = ${JSON.stringify(data, null, 1)};`;
    spans.push({ start: offset, end: offset + statement.length, object: describe(manifest) });
    body.push(statement);
    offset += statement.length + 1;
  });
  const source = `${lines.join("\n")}\n${body.join("\n")}\n`;

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const start = diagnostic.start ?? 0;
    const span = spans.find((s) => start >= s.start && start < s.end);
    const lineText = source.slice(source.lastIndexOf("\n", start) + 1, source.indexOf("\n", start)).trim();
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n").split("\n")[0] ?? "";
    return { object: span?.object ?? "(imports)", message: `${message} (at ${lineText})` };
  });
}

/** Every problem with every object: missing schema, schema violation, unknown field. */
export async function validateManifests(manifests: readonly Manifest[]): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  const typed: { manifest: Manifest; ref: ModelRef }[] = [];
  for (const manifest of manifests) {
    const ref = modelFor(String(manifest.apiVersion), String(manifest.kind));
    const Model = ref && (await loadModel(ref));
    if (!ref || !Model) {
      problems.push({ object: describe(manifest), message: "no schema known for this apiVersion/kind" });
      continue;
    }
    const invalid = runtimeValidate(manifest, Model);
    if (invalid) problems.push({ object: describe(manifest), message: invalid });
    typed.push({ manifest, ref });
  }
  if (typed.length > 0) problems.push(...strictFieldCheck(typed));
  return problems;
}
