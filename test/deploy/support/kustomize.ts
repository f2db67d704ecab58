import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const DEPLOY_DIR = join(REPO_ROOT, "deploy");

/** A rendered Kubernetes object: plain JSON, as `kubectl apply` would send it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface Rendered {
  readonly dir: string;
  readonly yaml: string;
  readonly manifests: Manifest[];
}

/** Every kustomization (not component) under deploy/, relative to the repository root. */
export function kustomizationDirs(root = DEPLOY_DIR): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (
        entry === "kustomization.yaml" &&
        /^kind:\s*Kustomization\s*$/m.test(readFileSync(path, "utf8"))
      )
        found.push(relative(REPO_ROOT, dir));
    }
  };
  walk(root);
  return found.sort();
}

export function parseManifests(yamlText: string, origin: string): Manifest[] {
  return parseAllDocuments(yamlText).flatMap((document, index) => {
    if (document.errors.length > 0)
      throw new Error(`${origin} document ${index}: ${document.errors[0]?.message}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return [];
    if (typeof value !== "object" || Array.isArray(value))
      throw new Error(`${origin} document ${index} is not a Kubernetes object`);
    return [value as Manifest];
  });
}

const cache = new Map<string, Rendered>();

/**
 * Renders a kustomization with the kustomize built into kubectl (offline: no cluster, no network).
 * kubectl is part of this project's machine image; without it the deploy checks cannot run, and
 * they fail saying so rather than pass without checking anything.
 */
export function renderKustomization(dir: string): Rendered {
  const cached = cache.get(dir);
  if (cached) return cached;
  let yaml: string;
  try {
    yaml = execFileSync("kubectl", ["kustomize", join(REPO_ROOT, dir)], {
      encoding: "utf8",
      timeout: 30_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw new Error("kubectl not found on PATH: the deploy tests render with `kubectl kustomize`");
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || String(error)}`);
  }
  const rendered = { dir, yaml, manifests: parseManifests(yaml, dir) };
  cache.set(dir, rendered);
  return rendered;
}

/**
 * Objects of one kind, typed as the caller's model interface (e.g. IDeployment from
 * kubernetes-models). The schema test proves every rendered object matches its model.
 */
export function find<T extends object = Manifest>(
  manifests: readonly Manifest[],
  kind: string,
  name?: string,
): T[] {
  return manifests.filter(
    (m) => m.kind === kind && (name === undefined || m.metadata.name === name),
  ) as unknown as T[];
}

export function only<T extends object = Manifest>(
  manifests: readonly Manifest[],
  kind: string,
  name?: string,
): T {
  const matches = find<T>(manifests, kind, name);
  if (matches.length !== 1)
    throw new Error(`expected exactly one ${kind}${name ? ` ${name}` : ""}, found ${matches.length}`);
  return matches[0] as T;
}
