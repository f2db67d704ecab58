/**
 * Building PromQL text from values that came from a ScaledObject. Every value goes through one
 * of these functions, so no metadata value can end a string literal, add a matcher or widen a
 * regex.
 */

/** A double-quoted PromQL string literal (Go escaping rules: backslash, quote, control chars). */
export function stringLiteral(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === "\\") out += "\\\\";
    else if (char === '"') out += '\\"';
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

/** Escapes RE2 metacharacters so the value matches itself literally inside a `=~` matcher. */
export function regexLiteral(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

export type MatchOperator = "=" | "=~";

export interface LabelMatcher {
  readonly label: string;
  readonly op: MatchOperator;
  /** The raw value: escaped by `selector()`, never by the caller. For `=~` an RE2 pattern. */
  readonly value: string;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*$/;

/** `metric{label="value", …}`. Label and metric names are code constants; checked anyway. */
export function selector(metric: string, matchers: readonly LabelMatcher[]): string {
  if (!METRIC_NAME.test(metric)) throw new Error(`not a metric name: ${metric}`);
  const parts = matchers.map((m) => {
    if (!LABEL_NAME.test(m.label)) throw new Error(`not a label name: ${m.label}`);
    return `${m.label}${m.op}${stringLiteral(m.value)}`;
  });
  return `${metric}{${parts.join(", ")}}`;
}

/** Kubernetes namespace names (DNS-1123 labels): what KEDA can legitimately send. */
export const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
