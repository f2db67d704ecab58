import type { ScaledObjectIdentity } from "../config/spec.ts";

/**
 * A ScaledObject's metadata as it was first sent, for finding its entry again by comparing: two
 * arrays, keys and values, in the order it came. KEDA's Go client writes a map's entries in any
 * order (Go's map order changes from call to call), so each key a request carries is looked for
 * among the remembered ones: first at the same position, then by a scan. The keys are property
 * names, which V8 interns, so the scan compares references; the book indexes metadata of at most
 * a few dozen keys (MAX_COMPARED_KEYS in decision-book.ts), which bounds the scans.
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
 * the first difference or once the request has more keys than remembered: it costs at most the
 * remembered keys squared in reference comparisons, and a value compared with a remembered one
 * of another length costs nothing more.
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
