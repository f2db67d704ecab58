import { type FailedReading, type FailureKind, failureOf, type SourceName } from "../readings/reading.ts";

/**
 * Upstream trouble → typed failure. Messages are composed here from status codes and error codes
 * only, never copied from an upstream error: SDK and socket errors can carry URLs, headers or
 * connection-string fragments, and a failure message travels to logs and to KEDA.
 */

const TLS_ERROR_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

const NETWORK_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

export function failureForStatus(
  source: SourceName,
  status: number,
  what: string,
  retryAfter?: string | null,
): FailedReading {
  const kind: FailureKind =
    status === 401 || status === 403
      ? "auth"
      : status === 404
        ? "not_found"
        : status === 429 || status === 503
          ? "throttled"
          : status >= 500
            ? "unreachable"
            : "bad_response";
  const hint =
    kind === "auth"
      ? " (check the credentials and their rights)"
      : kind === "throttled" && retryAfter
        ? ` (retry after ${retryAfter.slice(0, 32)} s)`
        : "";
  return failureOf(source, kind, `${what}: HTTP ${status}${hint}`);
}

/** The error code of a socket/TLS/SDK error, looking through `cause` chains. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { code, name } = current as { code?: unknown; name?: unknown };
    if (typeof code === "string") codes.push(code);
    if (typeof name === "string") codes.push(name);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

export function isAbortError(error: unknown): boolean {
  return errorCodes(error).some((c) => c === "AbortError" || c === "TimeoutError" || c === "ABORT_ERR");
}

export function failureForError(
  source: SourceName,
  error: unknown,
  what: string,
  timeoutMs: number,
): FailedReading {
  const codes = errorCodes(error);
  if (isAbortError(error) || codes.includes("ETIMEDOUT"))
    return failureOf(source, "timeout", `${what}: no answer within ${timeoutMs} ms`);
  const tls = codes.find((c) => TLS_ERROR_CODES.has(c) || c.startsWith("ERR_TLS_") || c.startsWith("CERT_"));
  if (tls) return failureOf(source, "unreachable", `${what}: TLS handshake failed (${tls})`);
  const network = codes.find((c) => NETWORK_ERROR_CODES.has(c));
  if (network) return failureOf(source, "unreachable", `${what}: ${network}`);
  const firstCode = codes.find((c) => /^[A-Z][A-Z0-9_]+$/.test(c));
  return failureOf(source, "unreachable", `${what}: request failed${firstCode ? ` (${firstCode})` : ""}`);
}

/** Waits for `work`, but answers `onAbort()` at once when the caller (KEDA's RPC) goes away. */
export function unlessAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => T,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.resolve(onAbort());
  return new Promise<T>((resolve, reject) => {
    const abort = () => resolve(onAbort());
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}
