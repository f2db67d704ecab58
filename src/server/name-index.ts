import type { ScaledObjectIdentity } from "../config/spec.ts";

/**
 * A ScaledObject's metadata as it was first sent, for finding its entry again by comparing. Kept
 * as two arrays in the order it came: KEDA sends one ScaledObject's metadata in the same order
 * poll after poll as a rule, so a comparison is one pass of identical keys (property names, which
 * V8 interns, so each is compared by reference), falling back to a search when the order changed.
 */
export interface RememberedMetadata {
  readonly keys: readonly string[];
  readonly values: readonly string[];
}

export interface Indexed {
  readonly identity: ScaledObjectIdentity;
  readonly metadata: RememberedMetadata | undefined;
}

/** A copy of the metadata that keeps no reference to the request. */
export function rememberMetadata(metadata: Readonly<Record<string, string>>): RememberedMetadata {
  const keys: string[] = [];
  const values: string[] = [];
  for (const key in metadata) {
    keys.push(key);
    values.push(metadata[key] ?? "");
  }
  return { keys, values };
}

/**
 * Whether the request carries exactly the remembered metadata, in any order. The pass stops at
 * the first difference or at the remembered length: a request with far more keys, or far longer
 * values (compared by length first), costs no more than the remembered metadata's size.
 */
export function sameMetadata(
  remembered: RememberedMetadata,
  metadata: Readonly<Record<string, string>>,
): boolean {
  const { keys, values } = remembered;
  let seen = 0;
  for (const key in metadata) {
    if (seen === keys.length) return false;
    const at = keys[seen] === key ? seen : keys.indexOf(key);
    if (at < 0 || values[at] !== metadata[key]) return false;
    seen++;
  }
  return seen === keys.length;
}

/**
 * Entries by namespace and name: the lookup of every call, without building a key string. A name
 * usually has one entry; more while a ScaledObject's metadata is being changed.
 */
export class NameIndex<T extends Indexed> {
  private readonly byNamespace = new Map<string, Map<string, T[]>>();

  /** The entry of this ScaledObject with exactly this metadata, if indexed. */
  find(
    request: ScaledObjectIdentity & { readonly scalerMetadata: Readonly<Record<string, string>> },
  ): T | undefined {
    const named = this.byNamespace.get(request.namespace)?.get(request.name);
    if (!named) return undefined;
    for (const entry of named)
      if (entry.metadata !== undefined && sameMetadata(entry.metadata, request.scalerMetadata)) return entry;
    return undefined;
  }

  /** How many entries this ScaledObject has in the index. */
  variants(identity: ScaledObjectIdentity): number {
    return this.byNamespace.get(identity.namespace)?.get(identity.name)?.length ?? 0;
  }

  add(entry: T): void {
    const { namespace, name } = entry.identity;
    let names = this.byNamespace.get(namespace);
    if (!names) {
      names = new Map();
      this.byNamespace.set(namespace, names);
    }
    const named = names.get(name);
    if (named) named.push(entry);
    else names.set(name, [entry]);
  }

  remove(entry: T): void {
    const { namespace, name } = entry.identity;
    const names = this.byNamespace.get(namespace);
    const named = names?.get(name);
    if (!names || !named) return;
    const remaining = named.filter((indexed) => indexed !== entry);
    if (remaining.length > 0) names.set(name, remaining);
    else {
      names.delete(name);
      if (names.size === 0) this.byNamespace.delete(namespace);
    }
  }
}
