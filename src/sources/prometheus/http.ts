import http from "node:http";
import https from "node:https";

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/**
 * The most of an answer that is read. The query thread hands over at most 1,000 series (answer.ts),
 * which take ~0.2 MiB (~2 MiB with a kilobyte of labels each): a longer body is refused before
 * it is parsed. The bound on the thread's memory (query-thread.ts) is built from this.
 */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Connections to Prometheus kept open at most, each reading at most one body at a time. */
export const MAX_SOCKETS = 32;

export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

/**
 * Keep-alive agents: KEDA polls every few seconds, and a TLS handshake per query would dominate
 * the latency. A custom CA is trusted by this agent only, never process-wide.
 */
export function createAgent(url: URL, caPem: Buffer | undefined): http.Agent {
  const options = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: 8 };
  return url.protocol === "https:"
    ? new https.Agent(caPem ? { ...options, ca: caPem } : options)
    : new http.Agent(options);
}

/** One POST with a form body; rejects on network/TLS errors and when `signal` aborts. */
export function postForm(
  url: URL,
  form: URLSearchParams,
  headers: Record<string, string>,
  agent: http.Agent,
  signal: AbortSignal,
): Promise<HttpAnswer> {
  const body = form.toString();
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        signal,
        headers: {
          ...headers,
          accept: "application/json",
          "content-type": "application/x-www-form-urlencoded",
          "content-length": String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            res.destroy(new BodyTooLargeError(`response larger than ${MAX_BODY_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
