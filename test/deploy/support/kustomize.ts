import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Manifest, parseManifests } from "./manifest.ts";

export { type Manifest, parseManifests };

export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const DEPLOY_DIR = join(REPO_ROOT, "deploy");

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

/**
 * The kubectl that scripts/install-test-deps.sh installs (official binary, pinned version and
 * digest), so every machine renders deploy/ with the same kustomize. Its version is read from that
 * script, the one place it is written.
 */
export const KUBECTL: string = (() => {
  const script = readFileSync(join(REPO_ROOT, "scripts/install-test-deps.sh"), "utf8");
  const version = /^KUBECTL_VERSION=(\S+)$/m.exec(script)?.[1];
  if (!version) throw new Error("scripts/install-test-deps.sh sets no KUBECTL_VERSION");
  return join(REPO_ROOT, ".cache/tools", `kubectl-${version}`, "kubectl");
})();

/** Renders with the kustomize built into kubectl (offline: no cluster, no network). */
function renderWithKubectl(dir: string): Rendered {
  if (!existsSync(KUBECTL))
    throw new Error(`${KUBECTL} is missing: run scripts/install-test-deps.sh (npm run test:ci does)`);
  let yaml: string;
  try {
    yaml = execFileSync(KUBECTL, ["kustomize", join(REPO_ROOT, dir)], {
      encoding: "utf8",
      timeout: 30_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || String(error)}`);
  }
  return { dir, yaml, manifests: parseManifests(yaml, dir) };
}

const cache = new Map<string, Rendered>();

/** Renders a kustomization exactly as `kubectl kustomize` does (it is kubectl kustomize). */
export function renderKustomization(dir: string): Rendered {
  const cached = cache.get(dir);
  if (cached) return cached;
  const rendered = renderWithKubectl(dir);
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
