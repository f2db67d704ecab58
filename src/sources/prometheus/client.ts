import type http from "node:http";
import type { TokenCredential } from "@azure/core-auth";
import type { ServiceConfig } from "../../config/service-config.ts";
import { type FailedReading, failureOf } from "../../readings/reading.ts";
import { failureForError, failureForStatus } from "../failures.ts";
import { requestDeadline } from "../stopping.ts";
import { BodyTooLargeError, createAgent, postForm } from "./http.ts";

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly timestampMs: number;
  /** As Prometheus writes it: a decimal, "NaN", "+Inf" or "-Inf". */
  readonly value: string;
}

export type QueryAnswer = { readonly ok: true; readonly samples: readonly Sample[] } | FailedReading;

type PrometheusConfig = ServiceConfig["prometheus"];

/** Renews an Entra ID token a few minutes before it expires; one renewal at a time. */
class TokenCache {
  private token: { value: string; expiresOnMs: number } | undefined;
  private pending: Promise<string> | undefined;

  private readonly credential: TokenCredential;
  private readonly scope: string;

  constructor(credential: TokenCredential, scope: string) {
    this.credential = credential;
    this.scope = scope;
  }

  async get(signal: AbortSignal): Promise<string> {
    const now = Date.now();
    if (this.token && this.token.expiresOnMs - now > 5 * 60_000) return this.token.value;
    this.pending ??= this.credential
      .getToken(this.scope, { abortSignal: signal })
      .then((token) => {
        if (!token) throw new Error("no token");
        this.token = { value: token.token, expiresOnMs: token.expiresOnTimestamp };
        return token.token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/**
 * Instant queries against the Prometheus HTTP API (self-hosted, or Azure Monitor managed
 * Prometheus's query endpoint). Never throws: trouble comes back as a typed failure whose
 * message names the query's purpose, not the credentials.
 */
export class PrometheusClient {
  private readonly queryUrl: URL;
  private readonly agent: http.Agent;
  private readonly tokens: TokenCache | undefined;
  /** Set when the auth settings are incomplete: every query fails with it. */
  readonly misconfiguration: string | undefined;

  private readonly config: PrometheusConfig & { url: string };
  private readonly options: { caPem?: Buffer; credential?: () => TokenCredential; stopping?: AbortSignal };

  constructor(
    config: PrometheusConfig & { url: string },
    options: { caPem?: Buffer; credential?: () => TokenCredential; stopping?: AbortSignal },
  ) {
    this.config = config;
    this.options = options;
    this.queryUrl = new URL(`${config.url.replace(/\/+$/, "")}/api/v1/query`);
    this.agent = createAgent(this.queryUrl, options.caPem);
    this.misconfiguration = authProblem(config);
    this.tokens =
      config.auth === "azure" && options.credential
        ? new TokenCache(options.credential(), config.azureScope)
        : undefined;
  }

  private async authHeaders(signal: AbortSignal): Promise<Record<string, string>> {
    switch (this.config.auth) {
      case "bearer":
        return { authorization: `Bearer ${this.config.bearerToken ?? ""}` };
      case "basic": {
        const pair = `${this.config.username ?? ""}:${this.config.password ?? ""}`;
        return { authorization: `Basic ${Buffer.from(pair).toString("base64")}` };
      }
      case "azure":
        if (!this.tokens) return {};
        return { authorization: `Bearer ${await this.tokens.get(signal)}` };
      default:
        return {};
    }
  }

  /**
   * Evaluates `expr` at Prometheus' "now" (no `time`: a cached answer is shared by callers with
   * different clocks; staleness is judged from the samples' own timestamps). Prometheus is told
   * the timeout as well, so a heavy query stops there instead of running on after we gave up.
   */
  async query(expr: string, options: { timeoutMs: number; what: string }): Promise<QueryAnswer> {
    const { what, timeoutMs } = options;
    if (this.misconfiguration) return failureOf("prometheus", "not_configured", this.misconfiguration);
    using deadline = requestDeadline(timeoutMs, this.options.stopping);
    const signal = deadline.signal;
    try {
      let headers: Record<string, string>;
      try {
        headers = await this.authHeaders(signal);
      } catch (error) {
        if (signal.aborted) return failureForError("prometheus", error, what, timeoutMs);
        return failureOf("prometheus", "auth", `${what}: could not get an Entra ID token for Prometheus`);
      }
      const form = new URLSearchParams({
        query: expr,
        timeout: `${timeoutMs}ms`,
      });
      const answer = await postForm(this.queryUrl, form, headers, this.agent, signal);
      return parseAnswer(answer.status, answer.text, answer.headers["retry-after"], what);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return failureOf("prometheus", "bad_response", `${what}: ${error.message}`);
      return failureForError("prometheus", error, what, timeoutMs);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function authProblem(config: PrometheusConfig): string | undefined {
  if (config.auth === "bearer" && !config.bearerToken)
    return "env PROMETHEUS_AUTH=bearer needs PROMETHEUS_BEARER_TOKEN";
  if (config.auth === "basic" && (!config.username || config.password === undefined))
    return "env PROMETHEUS_AUTH=basic needs PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD";
  return undefined;
}

interface ApiBody {
  status?: unknown;
  error?: unknown;
  errorType?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

function parseJson(text: string): ApiBody | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as ApiBody) : undefined;
  } catch {
    return undefined;
  }
}

function isSamplePair(value: unknown): value is [number, string] {
  return Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string";
}

/** Prometheus' error text names the query problem (e.g. a parse error), never a credential. */
function apiError(body: ApiBody | undefined): string {
  const text = typeof body?.error === "string" ? body.error : "";
  return text ? `: ${text.slice(0, 300)}` : "";
}

export function parseAnswer(
  status: number,
  text: string,
  retryAfter: string | string[] | undefined,
  what: string,
): QueryAnswer {
  const body = parseJson(text);
  if (status === 400 || status === 422)
    return failureOf("prometheus", "bad_response", `${what}: Prometheus rejected the query${apiError(body)}`);
  if (status !== 200)
    return failureForStatus(
      "prometheus",
      status,
      what,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    );
  if (body?.status !== "success" || typeof body.data !== "object" || body.data === null)
    return failureOf("prometheus", "bad_response", `${what}: the answer is not a Prometheus API response`);
  const { resultType, result } = body.data;
  if (resultType === "scalar" && isSamplePair(result))
    return { ok: true, samples: [{ labels: {}, timestampMs: result[0] * 1000, value: result[1] }] };
  if (resultType !== "vector" || !Array.isArray(result))
    return failureOf(
      "prometheus",
      "bad_response",
      `${what}: expected an instant vector, got ${String(resultType).slice(0, 20)}`,
    );
  const samples: Sample[] = [];
  for (const entry of result as unknown[]) {
    const { metric, value } = (entry ?? {}) as { metric?: unknown; value?: unknown };
    if (typeof metric !== "object" || metric === null || !isSamplePair(value))
      return failureOf("prometheus", "bad_response", `${what}: a sample in the answer is malformed`);
    samples.push({ labels: metric as Record<string, string>, timestampMs: value[0] * 1000, value: value[1] });
  }
  return { ok: true, samples };
}
