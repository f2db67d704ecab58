import { parseAllDocuments } from "yaml";

/** A rendered Kubernetes object: plain JSON, as `kubectl apply` would send it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
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
