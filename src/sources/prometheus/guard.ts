/**
 * Tenant check for user-supplied PromQL: every vector selector in the expression must carry the
 * exact matcher namespace="<the ScaledObject's namespace>". Matchers on one selector are ANDed,
 * so one exact namespace matcher confines that selector whatever else it says; functions,
 * operators and `or` only combine series that the selectors already confined.
 *
 * This is a lexer plus the few grammar rules that decide whether an identifier is a metric name,
 * not a full PromQL parser. Whatever it cannot classify with certainty it rejects: a query the
 * guard misreads must fail closed, never open.
 */

export class QueryGuardError extends Error {
  override readonly name = "QueryGuardError";
}

type Token =
  | { kind: "ident"; text: string; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "number"; at: number }
  | { kind: "punct"; text: string; at: number };

const PUNCTUATION = ["=~", "!~", "!=", "==", "<=", ">=", "{", "}", "(", ")", ",", "@"];
const SINGLE_OPERATORS = new Set(["=", "+", "-", "*", "/", "%", "^", "<", ">"]);
const LABEL_LIST_KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const OTHER_KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2"]);
const NUMBER_WORDS = new Set(["inf", "nan"]);

function isIdentStart(c: string): boolean {
  return /[A-Za-z_:]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_:]/.test(c);
}

/** Go's strconv.Unquote rules for "…" and '…'; raw `…` strings have no escapes. */
function readString(source: string, start: number): { value: string; end: number } {
  const quote = source[start];
  let value = "";
  let i = start + 1;
  while (i < source.length) {
    const c = source[i] as string;
    if (c === quote) return { value, end: i + 1 };
    if (quote === "`") {
      value += c;
      i++;
      continue;
    }
    if (c === "\n") break;
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const e = source[i + 1];
    const simple: Record<string, string> = {
      a: "\x07",
      b: "\b",
      f: "\f",
      n: "\n",
      r: "\r",
      t: "\t",
      v: "\v",
      "\\": "\\",
      "'": "'",
      '"': '"',
    };
    if (e !== undefined && simple[e] !== undefined) {
      value += simple[e];
      i += 2;
      continue;
    }
    const hexLength = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hexLength > 0) {
      const hex = source.slice(i + 2, i + 2 + hexLength);
      if (!new RegExp(`^[0-9A-Fa-f]{${hexLength}}$`).test(hex))
        throw new QueryGuardError(`bad escape in string at ${i}`);
      value += String.fromCodePoint(Number.parseInt(hex, 16));
      i += 2 + hexLength;
      continue;
    }
    const octal = source.slice(i + 1, i + 4);
    if (/^[0-7]{3}$/.test(octal)) {
      value += String.fromCodePoint(Number.parseInt(octal, 8));
      i += 4;
      continue;
    }
    throw new QueryGuardError(`bad escape in string at ${i}`);
  }
  throw new QueryGuardError(`unterminated string at ${start}`);
}

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      const { value, end } = readString(source, i);
      tokens.push({ kind: "string", value, at: i });
      i = end;
      continue;
    }
    if (c === "[") {
      // A range or subquery: durations only ([5m], [1h:30s]). Read whole, so the `:` of a
      // subquery is not taken for the start of a metric name.
      const close = source.indexOf("]", i);
      if (close < 0 || !/^[\s0-9A-Za-z_.:]*$/.test(source.slice(i + 1, close)))
        throw new QueryGuardError(`cannot read the range at ${i}`);
      tokens.push({ kind: "number", at: i });
      i = close + 1;
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(source[i + 1] ?? ""))) {
      // Numbers and durations: 1, 0.5, 1e-3, 0x1f, 5m, 1h30m.
      const at = i;
      while (i < source.length) {
        const d = source[i] as string;
        if (/[0-9A-Za-z_.]/.test(d)) i++;
        else if (
          (d === "+" || d === "-") &&
          /[eE]/.test(source[i - 1] ?? "") &&
          !/^0[xX]/.test(source.slice(at))
        )
          i++;
        else break;
      }
      tokens.push({ kind: "number", at });
      continue;
    }
    if (isIdentStart(c)) {
      const at = i;
      while (i < source.length && isIdentPart(source[i] as string)) i++;
      const text = source.slice(at, i);
      if (NUMBER_WORDS.has(text.toLowerCase())) tokens.push({ kind: "number", at });
      else tokens.push({ kind: "ident", text, at });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (PUNCTUATION.includes(two)) {
      tokens.push({ kind: "punct", text: two, at: i });
      i += 2;
      continue;
    }
    if (PUNCTUATION.includes(c) || SINGLE_OPERATORS.has(c)) {
      tokens.push({ kind: "punct", text: c, at: i });
      i++;
      continue;
    }
    throw new QueryGuardError(`unexpected character ${JSON.stringify(c)} at ${i}`);
  }
  return tokens;
}

interface Matcher {
  readonly label: string;
  readonly op: string;
  readonly value: string;
}

export interface Selector {
  readonly metric?: string;
  readonly matchers: readonly Matcher[];
}

const isPunct = (token: Token | undefined, text: string): boolean =>
  token?.kind === "punct" && token.text === text;

/** Parses `{…}` starting at `open` (the `{`); returns the matchers and the index after `}`. */
function readMatchers(tokens: readonly Token[], open: number): { matchers: Matcher[]; next: number } {
  const matchers: Matcher[] = [];
  let i = open + 1;
  while (!isPunct(tokens[i], "}")) {
    const name = tokens[i];
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (name === undefined) throw new QueryGuardError("unterminated label matchers");
    if (name.kind === "string" && (isPunct(op, ",") || isPunct(op, "}"))) {
      // Prometheus 3's quoted metric name: {"metric.name", …}.
      matchers.push({ label: "__name__", op: "=", value: name.value });
      i += 1;
    } else {
      const label = name.kind === "ident" ? name.text : name.kind === "string" ? name.value : undefined;
      const operator = op?.kind === "punct" ? op.text : undefined;
      if (
        label === undefined ||
        operator === undefined ||
        !["=", "!=", "=~", "!~"].includes(operator) ||
        value?.kind !== "string"
      )
        throw new QueryGuardError(`cannot read the label matcher at ${name.at}`);
      matchers.push({ label, op: operator, value: value.value });
      i += 3;
    }
    if (isPunct(tokens[i], ",")) i++;
    else if (!isPunct(tokens[i], "}")) throw new QueryGuardError(`cannot read the label matchers at ${open}`);
  }
  return { matchers, next: i + 1 };
}

/** Skips a `(label, …)` list after by/without/on/ignoring/group_*; returns the index after `)`. */
function skipLabelList(tokens: readonly Token[], open: number): number {
  let i = open + 1;
  while (!isPunct(tokens[i], ")")) {
    const token = tokens[i];
    if (token === undefined) throw new QueryGuardError("unterminated label list");
    if (!(token.kind === "ident" || token.kind === "string" || isPunct(token, ",")))
      throw new QueryGuardError(`unexpected token in a label list at ${token.at}`);
    i++;
  }
  return i + 1;
}

/** Every vector selector of the expression, or a QueryGuardError when it cannot tell. */
export function vectorSelectors(query: string): Selector[] {
  const tokens = lex(query);
  const selectors: Selector[] = [];
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i] as Token;
    const next = tokens[i + 1];
    if (token.kind === "ident") {
      const word = token.text.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(word)) {
        i = isPunct(next, "(") ? skipLabelList(tokens, i + 1) : i + 1;
        continue;
      }
      // A function or aggregation: `rate(`, `sum(`, `sum by (…)`, `topk without (…)`.
      const aggregationModifier =
        next?.kind === "ident" && (next.text.toLowerCase() === "by" || next.text.toLowerCase() === "without");
      if (OTHER_KEYWORDS.has(word) || isPunct(next, "(") || aggregationModifier) {
        i++;
        continue;
      }
      if (isPunct(next, "{")) {
        const { matchers, next: after } = readMatchers(tokens, i + 1);
        selectors.push({ metric: token.text, matchers });
        i = after;
      } else {
        selectors.push({ metric: token.text, matchers: [] });
        i++;
      }
      continue;
    }
    if (isPunct(token, "{")) {
      const { matchers, next: after } = readMatchers(tokens, i);
      selectors.push({ matchers });
      i = after;
      continue;
    }
    if (isPunct(token, "}")) throw new QueryGuardError(`unbalanced } at ${token.at}`);
    i++;
  }
  return selectors;
}

/**
 * Why the query is not confined to `namespace`, or undefined when every selector is.
 */
export function namespaceViolation(query: string, namespace: string): string | undefined {
  let selectors: Selector[];
  try {
    selectors = vectorSelectors(query);
  } catch (error) {
    if (error instanceof QueryGuardError) return `the query cannot be checked: ${error.message}`;
    throw error;
  }
  for (const selector of selectors) {
    const name = (selector.metric ?? "{…}").slice(0, 80);
    const namespaceMatchers = selector.matchers.filter((m) => m.label === "namespace");
    if (!namespaceMatchers.some((m) => m.op === "=" && m.value === namespace))
      return `selector ${name} lacks namespace="${namespace}" (every selector must name the ScaledObject's namespace exactly)`;
    // Beside the exact matcher another one cannot widen the selector, but it says something
    // the scaler will not do: a query either names its namespace exactly, once, or is refused.
    const other = namespaceMatchers.find((m) => !(m.op === "=" && m.value === namespace));
    if (other)
      return `selector ${name} has namespace${other.op}${JSON.stringify(other.value.slice(0, 80))} beside namespace="${namespace}" (only the exact namespace matcher is allowed)`;
  }
  return undefined;
}
