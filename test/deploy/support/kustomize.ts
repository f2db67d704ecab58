import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { type Manifest, parseManifests } from "./manifest.ts";
import { renderWithMiniKustomize } from "./mini-kustomize.ts";

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
 * Whether `kubectl kustomize` (kustomize v5, built into kubectl) can be run here.
 * DEPLOY_TEST_RENDERER=mini runs the whole suite on mini-kustomize, as on a machine without kubectl.
 */
export const hasKubectl: boolean = (() => {
  if (process.env.DEPLOY_TEST_RENDERER === "mini") return false;
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore", timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
})();

/** Renders with the kustomize built into kubectl (offline: no cluster, no network). */
export function renderWithKubectl(dir: string): Rendered {
  let yaml: string;
  try {
    yaml = execFileSync("kubectl", ["kustomize", join(REPO_ROOT, dir)], {
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

/** Renders with mini-kustomize (the subset deploy/ uses), for machines without kubectl. */
export function renderWithMini(dir: string): Rendered {
  const manifests = renderWithMiniKustomize(join(REPO_ROOT, dir));
  return { dir, yaml: manifests.map((m) => stringify(m)).join("---\n"), manifests };
}

const cache = new Map<string, Rendered>();

/**
 * Renders a kustomization as `kubectl kustomize` would: with kubectl where it is installed (it is
 * on this project's machine image), otherwise with mini-kustomize, which a test holds to kubectl's
 * output wherever both exist.
 */
export function renderKustomization(dir: string): Rendered {
  const cached = cache.get(dir);
  if (cached) return cached;
  const rendered = hasKubectl ? renderWithKubectl(dir) : renderWithMini(dir);
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
