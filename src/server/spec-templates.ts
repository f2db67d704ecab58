import { createHash } from "node:crypto";
import { ConfigError, type ConfigProblem, type RawInputs } from "../config/resolve.ts";
import { parseScalerSpec, type ScaledObjectIdentity, type ScalerSpec } from "../config/spec.ts";

/** At most this many problems are kept of an invalid spec: the answer names the first ones. */
const KEPT_PROBLEMS = 8;

/** Contents longer than this are indexed by their digest, so the index never holds a tenant's bulk. */
const MAX_KEY_CHARACTERS = 4096;

/**
 * The error as remembered: without a captured stack, and with its texts in one piece. A thrown
 * error keeps its stack frames (each with its function and receiver) until the stack is printed,
 * and a remembered error is never printed: it only answers INVALID_ARGUMENT (the frames were
 * ~770 bytes of an invalid entry's ~3.2 KB, measured with 5,000 of them). A message built by
 * concatenation stays a tree of every piece it was built from until it is copied.
 */
function rememberedError(problems: readonly ConfigProblem[]): ConfigError {
  const copied = problems.map(({ where, message }) => ({ where: flat(where), message: flat(message) }));
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new ConfigError(copied);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The text as one flat string: a copy that keeps none of the pieces it was concatenated from. */
function flat(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

interface Template {
  /** The settings as parsed for the first ScaledObject with this content, or its problems. */
  readonly parsed: ScalerSpec | ConfigError;
  /** Approximate bytes the parsed settings keep alive (UTF-16 text of their JSON). */
  readonly bytes: number;
}

/** What a remembered template costs here: its settings, and its key (up to 4,096 characters of metadata). */
function costOf(key: string, template: Template): number {
  return template.bytes + 2 * key.length;
}

export interface SpecTemplatesOptions {
  readonly env: RawInputs["env"];
  /** Distinct contents remembered; the least recently used is forgotten first. */
  readonly maxEntries: number;
  /** Bound on the approximate bytes of the remembered settings together. */
  readonly maxBytes: number;
}

/**
 * Parsed settings shared by every ScaledObject with the same namespace and scalerMetadata. A
 * ScaledObject's settings depend on its metadata, the environment and its namespace (the tenant
 * rules), never on its name: the ScaledObjects of one chart differ only by name, so a burst of
 * KEDA's first calls (a restart with thousands of them) parses each distinct metadata once, and
 * their specs share every settings object. Invalid metadata is remembered the same way, by its
 * first few problems, so a tenant repeating it costs one parse.
 */
export class SpecTemplates {
  private readonly templates = new Map<string, Template>();
  private bytes = 0;
  private readonly options: SpecTemplatesOptions;

  constructor(options: SpecTemplatesOptions) {
    this.options = options;
  }

  /**
   * The spec of `identity` whose namespace and metadata `content` identifies (the canonical text
   * of both, as the book makes it), or its ConfigError.
   */
  specFor(
    identity: ScaledObjectIdentity,
    metadata: Readonly<Record<string, string>>,
    content: string,
  ): { spec: ScalerSpec | ConfigError; bytes: number } {
    const key =
      content.length <= MAX_KEY_CHARACTERS ? content : createHash("sha256").update(content).digest("base64");
    let template = this.templates.get(key);
    if (template) {
      // Re-insert to keep the map in least-recently-used order.
      this.templates.delete(key);
      this.templates.set(key, template);
    } else {
      template = this.parse(identity, metadata);
      this.templates.set(key, template);
      this.bytes += costOf(key, template);
      this.evictBeyondBound();
    }
    const { parsed } = template;
    if (parsed instanceof ConfigError) return { spec: parsed, bytes: template.bytes };
    const { scaledObject } = parsed;
    const spec =
      scaledObject.name === identity.name && scaledObject.namespace === identity.namespace
        ? parsed
        : { ...parsed, scaledObject: identity };
    return { spec, bytes: template.bytes };
  }

  get size(): number {
    return this.templates.size;
  }

  /** The approximate bytes of the remembered templates and their keys (bounded by maxBytes). */
  get approximateBytes(): number {
    return this.bytes;
  }

  private parse(identity: ScaledObjectIdentity, metadata: Readonly<Record<string, string>>): Template {
    let parsed: ScalerSpec | ConfigError;
    try {
      parsed = parseScalerSpec(identity, metadata, this.options.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // An invalid spec is remembered too (a bad manifest is polled as often as a good one), but
      // only its first problems, each already short.
      parsed = rememberedError(error.problems.slice(0, KEPT_PROBLEMS));
    }
    const text = parsed instanceof ConfigError ? parsed.message : JSON.stringify(parsed);
    return { parsed, bytes: 2 * text.length };
  }

  private evictBeyondBound(): void {
    // The newest template always stays: the caller is about to use it.
    while (
      this.templates.size > 1 &&
      (this.templates.size > this.options.maxEntries || this.bytes > this.options.maxBytes)
    ) {
      const oldestKey = this.templates.keys().next().value as string;
      const oldest = this.templates.get(oldestKey);
      this.templates.delete(oldestKey);
      if (oldest) this.bytes -= costOf(oldestKey, oldest);
    }
  }
}
