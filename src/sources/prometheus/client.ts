import type { TokenCredential } from "@azure/core-auth";
import type { ServiceConfig } from "../../config/service-config.ts";
import { failureOf } from "../../readings/reading.ts";
import { failureForError } from "../failures.ts";
import { requestDeadline } from "../stopping.ts";
import type { QueryAnswer } from "./answer.ts";
import { QueryThread, type QueryThreadStop } from "./query-thread.ts";

export type { QueryAnswer, Sample } from "./answer.ts";

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

export interface PrometheusClientOptions {
  readonly caPem?: Buffer;
  readonly credential?: () => TokenCredential;
  readonly stopping?: AbortSignal;
  /** The query thread stopped or could not start (for the log and /metrics). */
  readonly onQueryThreadStop?: (stop: QueryThreadStop) => void;
  /** The query thread's code (default: query-worker.ts; a test gives one that stops). */
  readonly queryWorkerFile?: URL;
}

/**
 * Instant queries against the Prometheus HTTP API (self-hosted, or Azure Monitor managed
 * Prometheus's query endpoint). Never throws: trouble comes back as a typed failure whose
 * message names the query's purpose, not the credentials.
 */
export class PrometheusClient {
  private readonly thread: QueryThread;
  private readonly tokens: TokenCache | undefined;
  /** Set when the auth settings are incomplete: every query fails with it. */
  readonly misconfiguration: string | undefined;

  private readonly config: PrometheusConfig & { url: string };
  private readonly options: PrometheusClientOptions;

  constructor(config: PrometheusConfig & { url: string }, options: PrometheusClientOptions) {
    this.config = config;
    this.options = options;
    const queryUrl = new URL(`${config.url.replace(/\/+$/, "")}/api/v1/query`);
    this.thread = new QueryThread(queryUrl, options.caPem, {
      onStop: options.onQueryThreadStop,
      workerFile: options.queryWorkerFile,
    });
    this.misconfiguration = authProblem(config);
    if (!this.misconfiguration) this.thread.start();
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
    let headers: Record<string, string>;
    try {
      headers = await this.authHeaders(signal);
    } catch (error) {
      if (signal.aborted) return failureForError("prometheus", error, what, timeoutMs);
      return failureOf("prometheus", "auth", `${what}: could not get an Entra ID token for Prometheus`);
    }
    // Awaited here, so that the deadline is disposed of when the answer comes.
    return await this.thread.query({ expr, timeoutMs, what }, headers, signal);
  }

  close(): void {
    this.thread.close();
  }
}

function authProblem(config: PrometheusConfig): string | undefined {
  if (config.auth === "bearer" && !config.bearerToken)
    return "env PROMETHEUS_AUTH=bearer needs PROMETHEUS_BEARER_TOKEN";
  if (config.auth === "basic" && (!config.username || config.password === undefined))
    return "env PROMETHEUS_AUTH=basic needs PROMETHEUS_USERNAME and PROMETHEUS_PASSWORD";
  return undefined;
}
