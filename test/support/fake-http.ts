import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export type FakeHandler = (request: RecordedRequest, res: ServerResponse) => void;

/**
 * A scripted HTTP(S) server on 127.0.0.1:0 standing in for an upstream API in fault tests.
 * `handler` may be replaced between tests; every request is recorded.
 */
export class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];
  handler: FakeHandler = (_request, res) => res.writeHead(500).end();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly tls?: { certFile: string; keyFile: string }) {}

  get url(): string {
    return `${this.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<this> {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const request = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        this.requests.push(request);
        this.handler(request, res);
      });
    };
    const server = this.tls
      ? createHttpsServer(
          { cert: readFileSync(this.tls.certFile), key: readFileSync(this.tls.keyFile) },
          onRequest,
        )
      : createServer(onRequest);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    return this;
  }

  /**
   * Serves another certificate to new TLS connections and drops the open ones, as when a
   * TLS-inspecting proxy or a misissued certificate appears in front of the upstream.
   */
  presentCertificate(pair: { certFile: string; keyFile: string }): void {
    const server = this.server;
    if (!server || !("setSecureContext" in server))
      throw new Error("presentCertificate needs a listening TLS server");
    (server as HttpsServer).setSecureContext({
      cert: readFileSync(pair.certFile),
      key: readFileSync(pair.keyFile),
    });
    server.closeAllConnections();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
