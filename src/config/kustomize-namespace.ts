import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parse } from "yaml";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/**
 * The namespace kustomize gives the objects of `file`: the `namespace:` of a kustomization in the
 * same directory that lists `file` under resources. Kustomize sets it on every object, replacing
 * what the manifest says, so a ScaledObject file read on its own (explain, check-config) would be
 * judged as `default/` and, with it, against the wrong namespace's tenancy rules.
 */
export function kustomizeNamespaceOf(file: string): string | undefined {
  const dir = dirname(file);
  for (const name of KUSTOMIZATION_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    let kustomization: unknown;
    try {
      kustomization = parse(readFileSync(path, "utf8"));
    } catch {
      return undefined;
    }
    if (typeof kustomization !== "object" || kustomization === null) return undefined;
    const { namespace, resources } = kustomization as { namespace?: unknown; resources?: unknown };
    const listed =
      Array.isArray(resources) &&
      resources.some((r) => typeof r === "string" && r.replace(/^\.\//, "") === basename(file));
    return listed && typeof namespace === "string" && namespace !== "" ? namespace : undefined;
  }
  return undefined;
}
