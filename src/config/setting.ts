import { z } from "zod";
import { shortened } from "./excerpt.ts";

/**
 * A value type for a setting that arrives as a string (an environment variable or a
 * `scalerMetadata` entry: KEDA passes every trigger metadata value as a string).
 * `allowed` is the human phrase used in error messages and in the configuration table.
 */
export interface ValueType<T> {
  readonly schema: z.ZodType<T, string>;
  readonly allowed: string;
}

/**
 * One tunable. Per-ScaledObject settings have a `key` (the scalerMetadata key) and take their
 * default from `env`; process settings have only `env`.
 */
export interface Setting<T = unknown> {
  readonly key?: string;
  readonly env: string;
  readonly type: ValueType<T>;
  /** The raw default, as it would be written in the environment. Absent means "not set". */
  readonly default?: string;
  readonly doc: string;
  /** Connection strings, tokens, passwords: redacted whenever configuration is printed. */
  readonly secret?: boolean;
}

export type SettingsGroup = Readonly<Record<string, Setting>>;

/** The parsed shape of a group: each setting's value type, by field name. */
export type GroupValues<G extends SettingsGroup> = {
  -readonly [F in keyof G]: G[F] extends Setting<infer T> ? T : never;
};

export function setting<T>(definition: Setting<T>): Setting<T> {
  return definition;
}

const trimmed = z.string().trim();

function numberWhere(allowed: string, accept: (n: number) => boolean): ValueType<number> {
  const schema = trimmed
    .refine((raw) => raw !== "" && Number.isFinite(Number(raw)) && accept(Number(raw)), { message: allowed })
    .transform(Number);
  return { schema, allowed };
}

export const positiveNumber = (): ValueType<number> => numberWhere("a positive number", (n) => n > 0);

export const nonNegativeNumber = (): ValueType<number> =>
  numberWhere("a number zero or greater", (n) => n >= 0);

/** A share of something: 0 < x ≤ 1 (for example 0.7 for 70 %). */
export const fraction = (): ValueType<number> =>
  numberWhere("a fraction above 0 and at most 1 (e.g. 0.7)", (n) => n > 0 && n <= 1);

export function integer(min: number, max: number): ValueType<number> {
  return numberWhere(
    `a whole number from ${min} to ${max}`,
    (n) => Number.isInteger(n) && n >= min && n <= max,
  );
}

export function boolean(): ValueType<boolean> {
  const allowed = "true or false";
  const schema = trimmed
    .transform((raw) => raw.toLowerCase())
    .refine((raw) => raw === "true" || raw === "false", { message: allowed })
    .transform((raw) => raw === "true");
  return { schema, allowed };
}

export function oneOf<const V extends readonly [string, ...string[]]>(values: V): ValueType<V[number]> {
  const allowed = `one of ${values.join(", ")}`;
  const schema = trimmed.refine((raw): raw is V[number] => (values as readonly string[]).includes(raw), {
    message: allowed,
  });
  return { schema: schema as unknown as z.ZodType<V[number], string>, allowed };
}

/** Free text bounded in size and, where it can reach a query or a name, by a pattern. */
export function text(options: { pattern?: RegExp; maxLength?: number; allowed: string }): ValueType<string> {
  const maxLength = options.maxLength ?? 1024;
  const schema = trimmed.refine(
    (raw) => raw.length > 0 && raw.length <= maxLength && (options.pattern?.test(raw) ?? true),
    { message: options.allowed },
  );
  return { schema, allowed: options.allowed };
}

/** A setting that may be left unset: a missing or empty value parses to `undefined`. */
export function optional<T>(type: ValueType<T>): ValueType<T | undefined> {
  const schema = z.string().transform((raw, ctx): T | undefined => {
    if (raw.trim() === "") return undefined;
    const parsed = type.schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: "custom", message: type.allowed });
    return z.NEVER;
  });
  return { schema, allowed: `${type.allowed} (or unset)` };
}

/** A value type whose string is parsed by an arbitrary function that explains its own errors. */
export function parsedBy<T>(allowed: string, parse: (raw: string) => T): ValueType<T> {
  const schema = z.string().transform((raw, ctx): T => {
    try {
      return parse(raw);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `${allowed}: ${shortened((error as Error).message, 300)}` });
      return z.NEVER;
    }
  });
  return { schema, allowed };
}
