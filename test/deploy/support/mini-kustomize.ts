import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { type Manifest, parseManifests } from "./manifest.ts";

/**
 * A small, honest kustomize for the subset deploy/ uses, so the deploy checks still run on a
 * machine without kubectl. It supports exactly: resources (files and kustomization directories),
 * components, namespace, labels (pairs, without selectors or templates), images (newName, newTag,
 * digest) and patches (strategic merge from a file or inline, with $patch: delete|replace, and
 * JSON 6902 add/replace/remove with a target). Any other field is an error, never silently
 * ignored. Where kubectl is installed, a test compares its output with this one, object by object.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  patches?: { path?: string; patch?: string; target?: PatchTarget }[];
}

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

const SUPPORTED_FIELDS = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "resources",
  "components",
  "labels",
  "images",
  "patches",
]);

/** Built-in kinds without a namespace (kustomize knows these; custom resources it treats as namespaced). */
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "PriorityClass",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "StorageClass",
  "PersistentVolume",
  "IngressClass",
  "RuntimeClass",
  "ValidatingWebhookConfiguration",
  "MutatingWebhookConfiguration",
  "APIService",
]);

/**
 * Strategic-merge list keys (Kubernetes' patchMergeKey) of the pod fields deploy/ patches. Other
 * lists, and every list of a custom resource, are replaced whole, as kustomize does. (Lists with a
 * context-dependent key, such as ports, are not needed here; the parity test would catch them.)
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
};

const BUILT_IN_GROUPS = new Set(["", "apps", "batch", "policy", "networking.k8s.io", "scheduling.k8s.io"]);

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
}

function readKustomization(dir: string): Kustomization {
  const file = join(dir, "kustomization.yaml");
  const value = parse(readFileSync(file, "utf8")) as Kustomization & Record<string, unknown>;
  for (const field of Object.keys(value))
    if (!SUPPORTED_FIELDS.has(field))
      throw new Error(`${file}: field ${field} is not supported by mini-kustomize`);
  for (const label of value.labels ?? [])
    if (label.includeSelectors || label.includeTemplates)
      throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported`);
  return value;
}

function loadResource(base: string, path: string): Manifest[] {
  const full = resolve(base, path);
  if (statSync(full).isDirectory()) return build(full);
  return parseManifests(readFileSync(full, "utf8"), full);
}

/** Strategic merge of a patch into an object (maps merge, keyed lists merge, other lists replace). */
function strategicMerge(target: Json, patch: Json, builtIn: boolean, field = ""): Json {
  if (isObject(patch) && isObject(target)) {
    if (patch.$patch === "replace") {
      const { $patch: _, ...rest } = patch;
      return clone(rest);
    }
    const out: JsonObject = { ...target };
    for (const [key, value] of Object.entries(patch)) {
      if (key === "$patch") continue;
      if (value === null) delete out[key];
      else
        out[key] =
          key in out ? strategicMerge(out[key] as Json, value, builtIn, key) : stripDirectives(value);
    }
    return out;
  }
  if (Array.isArray(patch) && Array.isArray(target)) {
    const mergeKey = builtIn ? MERGE_KEYS[field] : undefined;
    if (!mergeKey) return stripDirectives(patch);
    const out = target.map((item) => clone(item));
    const appended: Json[] = [];
    for (const item of patch) {
      if (!isObject(item)) throw new Error(`strategic merge: ${field} items must be objects`);
      const index = out.findIndex((existing) => isObject(existing) && existing[mergeKey] === item[mergeKey]);
      if (item.$patch === "delete") {
        if (index >= 0) out.splice(index, 1);
      } else if (index >= 0) out[index] = strategicMerge(out[index] as Json, item, builtIn, field);
      else appended.push(stripDirectives(item));
    }
    // New keyed items go first, as Kubernetes' strategic merge orders them.
    return [...appended, ...out];
  }
  return stripDirectives(patch);
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) if (key !== "$patch") out[key] = stripDirectives(item);
  return out;
}

function sameObject(manifest: Manifest, patch: JsonObject): boolean {
  const metadata = isObject(patch.metadata) ? patch.metadata : {};
  return (
    manifest.kind === patch.kind &&
    groupOf(manifest.apiVersion) === groupOf(String(patch.apiVersion ?? "")) &&
    manifest.metadata.name === metadata.name &&
    (metadata.namespace === undefined || manifest.metadata.namespace === metadata.namespace)
  );
}

function matchesTarget(manifest: Manifest, target: PatchTarget): boolean {
  const [group, version] = manifest.apiVersion.includes("/")
    ? manifest.apiVersion.split("/", 2)
    : ["", manifest.apiVersion];
  return (
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version) &&
    (target.kind === undefined || target.kind === manifest.kind) &&
    (target.name === undefined || target.name === manifest.metadata.name) &&
    (target.namespace === undefined || target.namespace === manifest.metadata.namespace)
  );
}

function applyStrategicPatch(manifests: Manifest[], patch: JsonObject, origin: string): Manifest[] {
  const index = manifests.findIndex((m) => sameObject(m, patch));
  if (index < 0)
    throw new Error(`${origin}: no object matches patch ${patch.kind} ${JSON.stringify(patch.metadata)}`);
  if (patch.$patch === "delete") return manifests.filter((_, i) => i !== index);
  const target = manifests[index] as Manifest;
  const merged = strategicMerge(
    target as unknown as Json,
    patch,
    BUILT_IN_GROUPS.has(groupOf(target.apiVersion)),
  ) as unknown as Manifest;
  return manifests.map((m, i) => (i === index ? merged : m));
}

function pointer(path: string): string[] {
  if (!path.startsWith("/")) throw new Error(`JSON pointer ${path} must start with /`);
  return path
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function applyJsonPatch(document: Json, operations: { op: string; path: string; value?: Json }[]): Json {
  const root = clone(document);
  for (const { op, path, value } of operations) {
    const parts = pointer(path);
    const last = parts.pop();
    if (last === undefined) throw new Error("JSON patch on the whole document is not supported");
    let parent: Json = root;
    for (const part of parts) {
      const next: Json | undefined = Array.isArray(parent)
        ? parent[Number(part)]
        : isObject(parent)
          ? parent[part]
          : undefined;
      if (next === undefined) throw new Error(`JSON patch: ${path} does not exist`);
      parent = next;
    }
    if (op !== "add" && op !== "replace" && op !== "remove")
      throw new Error(`JSON patch op ${op} is not supported`);
    if (Array.isArray(parent)) {
      const index = last === "-" ? parent.length : Number(last);
      if (op === "add") parent.splice(index, 0, clone(value ?? null));
      else if (op === "replace") parent[index] = clone(value ?? null);
      else parent.splice(index, 1);
    } else if (isObject(parent)) {
      if (op === "remove") delete parent[last];
      else parent[last] = clone(value ?? null);
    } else throw new Error(`JSON patch: parent of ${path} is not a container`);
  }
  return root;
}

function applyPatches(manifests: Manifest[], kustomization: Kustomization, dir: string): Manifest[] {
  for (const entry of kustomization.patches ?? []) {
    const origin = `${dir}: patch ${entry.path ?? "(inline)"}`;
    const text = entry.path ? readFileSync(resolve(dir, entry.path), "utf8") : (entry.patch ?? "");
    const parsed = parse(text) as Json;
    if (Array.isArray(parsed)) {
      if (!entry.target) throw new Error(`${origin}: a JSON 6902 patch needs a target`);
      const target = entry.target;
      const matched = manifests.filter((m) => matchesTarget(m, target));
      if (matched.length === 0) throw new Error(`${origin}: the target matches nothing`);
      const operations = parsed as { op: string; path: string; value?: Json }[];
      manifests = manifests.map((m) =>
        matchesTarget(m, target)
          ? (applyJsonPatch(m as unknown as Json, operations) as unknown as Manifest)
          : m,
      );
    } else if (isObject(parsed)) {
      if (entry.target) throw new Error(`${origin}: strategic merge patches with a target are not supported`);
      manifests = applyStrategicPatch(manifests, parsed, origin);
    } else throw new Error(`${origin}: not a patch`);
  }
  return manifests;
}

function setNamespace(manifests: Manifest[], namespace: string): Manifest[] {
  return manifests.map((m) =>
    CLUSTER_SCOPED.has(m.kind) ? m : { ...m, metadata: { ...m.metadata, namespace } },
  );
}

function addLabels(manifests: Manifest[], pairs: Record<string, string>): Manifest[] {
  return manifests.map((m) => ({
    ...m,
    metadata: { ...m.metadata, labels: { ...m.metadata.labels, ...pairs } },
  }));
}

function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [withoutDigest = "", digest] = image.split("@", 2);
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > slash
    ? { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1), digest }
    : { name: withoutDigest, digest };
}

function setImages(manifests: Manifest[], images: NonNullable<Kustomization["images"]>): Manifest[] {
  const rewrite = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!isObject(value)) return value;
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      if ((key === "containers" || key === "initContainers") && Array.isArray(item))
        out[key] = item.map((container) => {
          if (!isObject(container) || typeof container.image !== "string") return rewrite(container);
          const current = splitImage(container.image);
          const rule = images.find((i) => i.name === current.name);
          if (!rule) return rewrite(container);
          const name = rule.newName ?? current.name;
          const image = rule.digest
            ? `${name}@${rule.digest}`
            : `${name}${(rule.newTag ?? current.tag) ? `:${rule.newTag ?? current.tag}` : ""}${current.digest && !rule.newTag ? `@${current.digest}` : ""}`;
          return { ...(rewrite(container) as JsonObject), image };
        });
      else out[key] = rewrite(item);
    }
    return out;
  };
  return manifests.map((m) => rewrite(m as unknown as Json) as unknown as Manifest);
}

/** Renders one kustomization (or component) directory. */
export function build(dir: string, accumulated: Manifest[] = []): Manifest[] {
  const kustomization = readKustomization(dir);
  let manifests = [...accumulated];
  for (const resource of kustomization.resources ?? []) manifests.push(...loadResource(dir, resource));
  for (const component of kustomization.components ?? []) {
    const componentDir = resolve(dir, component);
    if (readKustomization(componentDir).kind !== "Component")
      throw new Error(`${componentDir} is listed as a component but is not kind: Component`);
    manifests = build(componentDir, manifests);
  }
  manifests = applyPatches(manifests, kustomization, dir);
  if (kustomization.namespace) manifests = setNamespace(manifests, kustomization.namespace);
  for (const label of kustomization.labels ?? []) manifests = addLabels(manifests, label.pairs);
  if (kustomization.images) manifests = setImages(manifests, kustomization.images);
  return manifests;
}

export function renderWithMiniKustomize(dir: string): Manifest[] {
  return build(resolve(dir)).map((m) => clone(m));
}
