import { createHash } from "node:crypto";
import type { ConfigError, RawInputs } from "../config/resolve.ts";
import type { ScaledObjectIdentity, ScalerSpec } from "../config/spec.ts";
import { type Indexed, NameIndex, rememberMetadata } from "./name-index.ts";
import { SpecTemplates } from "./spec-templates.ts";

export interface ScaledObjectRequest extends ScaledObjectIdentity {
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

/**
 * A digest of the ScaledObject and its metadata (in key order: order is not meaningful). The key
 * is 43 characters whatever the tenant sends; keying on the metadata's JSON kept every byte of
 * it alive as long as the entry.
 */
export function entryKey(request: ScaledObjectRequest): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([request.namespace, request.name]));
  for (const key of Object.keys(request.scalerMetadata).sort())
    hash.update(JSON.stringify([key, request.scalerMetadata[key]]));
  return hash.digest("base64url");
}

/**
 * The request's namespace and metadata as one string (metadata in key order: order is not
 * meaningful), every part length-prefixed so that no choice of keys and values can make two
 * different requests read alike. What a ScaledObject's settings depend on: its name is not part of it.
 */
function contentOf(request: ScaledObjectRequest): string {
  const metadata = request.scalerMetadata;
  const keys = Object.keys(metadata).sort();
  let text = `${request.namespace.length}:${request.namespace}`;
  for (const key of keys) {
    const value = metadata[key] ?? "";
    text += `${key.length}:${key}${value.length}:${value}`;
  }
  return text;
}

/** Keys and characters (keys and values) of the request's metadata, counted without allocating. */
function metadataSize(metadata: Readonly<Record<string, string>>): { keys: number; characters: number } {
  let keys = 0;
  let characters = 0;
  for (const key in metadata) {
    keys++;
    characters += key.length + (metadata[key]?.length ?? 0);
  }
  return { keys, characters };
}

/**
 * Requests whose metadata is at most this long are found by name and compared entry by entry (a
 * normal ScaledObject's is a few hundred characters): a poll builds no key and hashes nothing.
 * Longer ones are found by their digest, so the index never holds a tenant's bulk.
 */
const MAX_COMPARED_CHARACTERS = 1024;

/**
 * And at most this many keys: a comparison looks for each of a request's keys among the
 * remembered ones (name-index.ts), so its cost grows with the square of their number. A normal
 * ScaledObject has a dozen or fewer.
 */
const MAX_COMPARED_KEYS = 32;

/**
 * Metadata variants of one ScaledObject found by comparison (a ScaledObject being edited has two
 * or three); more are found by digest. Without a bound, a caller sending one name with thousands
 * of variants made every lookup of that name a scan of thousands, on the event loop every
 * tenant's calls share.
 */
const MAX_VARIANTS_PER_NAME = 4;

/** The least-recently-used order is kept to this resolution: an entry moves at most this often. */
const LRU_RESOLUTION_MS = 1000;

/** Distinct metadata whose parsed settings are kept for the next ScaledObject that sends it. */
const MAX_TEMPLATES = 2048;
const MAX_TEMPLATE_BYTES = 8 * 1024 * 1024;

/** What every entry of the table has; the table's owner adds its own fields. */
export interface TableEntry extends Indexed {
  /** The digest of the ScaledObject and its metadata (entryKey). */
  readonly key: string;
  readonly spec: ScalerSpec | ConfigError;
  /** Approximate bytes this entry keeps alive, for the table's byte bound. */
  readonly bytes: number;
  /** When the entry last moved to the recent end of the least-recently-used order. */
  usedAtMs: number;
}

/** What the table knows of a new entry when it asks its owner to make one. */
export interface NewEntry {
  readonly identity: ScaledObjectIdentity;
  readonly metadata: TableEntry["metadata"];
  readonly key: string;
  readonly spec: ScalerSpec | ConfigError;
  /** The parsed spec's bytes and the remembered metadata's: the owner adds what it keeps itself. */
  readonly bytes: number;
  readonly usedAtMs: number;
}

export interface ScaledObjectTableOptions<E extends TableEntry> {
  readonly env: RawInputs["env"];
  readonly clock: () => number;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly create: (fields: NewEntry) => E;
  /** An entry left the table (beyond a bound, the least recently used first). */
  readonly onEvict: (entry: E) => void;
}

/**
 * The ScaledObjects a thread remembers, each found again from a request as it comes: by name and
 * comparison for normal metadata (no key is built, nothing is hashed), by digest for long
 * metadata. Parsed once (settings shared by every ScaledObject with the same namespace and
 * metadata), bounded in count and in bytes, the least recently used forgotten first.
 */
export class ScaledObjectTable<E extends TableEntry> {
  private readonly entries = new Map<string, E>();
  private readonly byName = new NameIndex<E>();
  private readonly templates: SpecTemplates;
  private bytes = 0;
  private readonly options: ScaledObjectTableOptions<E>;

  constructor(options: ScaledObjectTableOptions<E>) {
    this.options = options;
    this.templates = new SpecTemplates({
      env: options.env,
      maxEntries: MAX_TEMPLATES,
      maxBytes: MAX_TEMPLATE_BYTES,
    });
  }

  /** The request's entry, made (and its metadata parsed) on its first call. */
  entryFor(request: ScaledObjectRequest): E {
    // Found by name in the common case; otherwise by digest (long metadata, or a name already
    // holding its share of metadata variants), computed only when the name lookup misses. The
    // comparisons are bounded by what is indexed (MAX_COMPARED_CHARACTERS, MAX_COMPARED_KEYS).
    const found = this.byName.find(request);
    const key = found ? found.key : entryKey(request);
    const existing = found ?? this.entries.get(key);
    if (existing) {
      this.touch(existing, this.options.clock());
      return existing;
    }
    const identity = { name: request.name, namespace: request.namespace };
    const { keys, characters } = metadataSize(request.scalerMetadata);
    const indexed =
      characters <= MAX_COMPARED_CHARACTERS &&
      keys <= MAX_COMPARED_KEYS &&
      this.byName.variants(identity) < MAX_VARIANTS_PER_NAME;
    const metadata = indexed ? rememberMetadata(request.scalerMetadata) : undefined;
    const { spec, bytes } = this.templates.specFor(identity, request.scalerMetadata, contentOf(request));
    const entry = this.options.create({
      identity,
      metadata,
      key,
      spec,
      bytes: bytes + (indexed ? 2 * characters : 0),
      usedAtMs: this.options.clock(),
    });
    this.entries.set(key, entry);
    if (indexed) this.byName.add(entry);
    this.bytes += entry.bytes;
    this.evictBeyondBound();
    return entry;
  }

  /**
   * A use of the entry at `atMs`: it moves to the recent end of the least-recently-used order, at
   * most once a second (the GetMetrics + IsActive of one poll, and a stream's refreshes, need not
   * move it twice).
   */
  touch(entry: E, atMs: number): void {
    if (atMs - entry.usedAtMs < LRU_RESOLUTION_MS || !this.holds(entry)) return;
    entry.usedAtMs = atMs;
    this.entries.delete(entry.key);
    this.entries.set(entry.key, entry);
  }

  /** Whether the entry is still this table's (not forgotten since it was handed out). */
  holds(entry: E): boolean {
    return this.entries.get(entry.key) === entry;
  }

  values(): IterableIterator<E> {
    return this.entries.values();
  }

  get size(): number {
    return this.entries.size;
  }

  /** The approximate bytes held by the entries (bounded by maxBytes). */
  get approximateBytes(): number {
    return this.bytes;
  }

  private evictBeyondBound(): void {
    const { maxEntries, maxBytes } = this.options;
    // The newest entry always stays, whatever its size: the caller is about to use it.
    while (this.entries.size > 1 && (this.entries.size > maxEntries || this.bytes > maxBytes)) {
      const oldestKey = this.entries.keys().next().value as string;
      const oldest = this.entries.get(oldestKey) as E;
      this.entries.delete(oldestKey);
      if (oldest.metadata) this.byName.remove(oldest);
      this.bytes -= oldest.bytes;
      this.options.onEvict(oldest);
    }
  }
}
