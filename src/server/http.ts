import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setImmediate as yieldToCalls } from "node:timers/promises";
import type { Decision } from "../policy/decision.ts";
import { fullDecision, type KeptDecision } from "./kept-decision.ts";
import type { Logger } from "./logger.ts";
import type { ScalerMetrics } from "./metrics.ts";

export interface HttpEndpointsDeps {
  readonly metrics: ScalerMetrics;
  readonly logger: Logger;
  readonly decisions: () => KeptDecision[];
  /** The per-ScaledObject series, written at scrape time. */
  readonly decisionSeries?: () => AsyncIterable<string>;
  /** DEBUG_DECISIONS: "loopback" answers only connections from this host (kubectl port-forward). */
  readonly exposeDecisions: "false" | "loopback" | "true";
  readonly isServing: () => boolean;
  /** Extra exposition appended to /metrics (e.g. the sources' own registry). */
  readonly extraMetrics?: () => Promise<string>;
  /** Awaited before a scrape reads the registry (the answer thread hands its counts over). */
  readonly beforeScrape?: () => Promise<void>;
}

/**
 * /debug/decisions lists this many decisions by default (?limit= up to DEBUG_PAGE_MAX, and
 * ?namespace= to pick one tenant): at 10,000 ScaledObjects the whole list was 20 MB.
 */
const DEBUG_PAGE = 200;
const DEBUG_PAGE_MAX = 2000;
/** Decisions made whole again between two turns of the event loop. */
const DEBUG_SLICE = 100;

/**
 * ?limit= of /debug/decisions: the default when absent, at most DEBUG_PAGE_MAX, undefined when
 * it is not a positive whole number (answered 400: a typo must not look like an empty fleet).
 */
function pageLimit(raw: string | null): number | undefined {
  if (raw === null) return DEBUG_PAGE;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) return undefined;
  return Math.min(Number(raw), DEBUG_PAGE_MAX);
}

/** /metrics, /debug/decisions, /healthz (process alive) and /readyz (serving, not shutting down). */
export function createHttpEndpoints(deps: HttpEndpointsDeps): Server {
  const routes: Record<string, (res: ServerResponse, req: IncomingMessage) => Promise<void> | void> = {
    "/metrics": async (res) => {
      // Written as it is made (chunked): the per-ScaledObject part comes in slices that let
      // KEDA's calls in between, and is never one string of several megabytes.
      await deps.beforeScrape?.();
      const registry = await deps.metrics.registry.metrics();
      res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
      res.write(registry);
      if (deps.decisionSeries)
        for await (const slice of deps.decisionSeries()) {
          if (res.destroyed) return; // the scraper went away: stop writing for nobody
          res.write(slice);
        }
      res.end(deps.extraMetrics ? await deps.extraMetrics() : "");
    },
    "/healthz": (res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    },
    "/readyz": (res) => {
      const serving = deps.isServing();
      res
        .writeHead(serving ? 200 : 503, { "content-type": "text/plain" })
        .end(serving ? "serving\n" : "not serving\n");
    },
  };
  if (deps.exposeDecisions !== "false")
    routes["/debug/decisions"] = async (res, req) => {
      if (deps.exposeDecisions === "loopback" && !isLoopback(req.socket.remoteAddress)) {
        res
          .writeHead(403, { "content-type": "text/plain" })
          .end("/debug/decisions answers loopback connections only (DEBUG_DECISIONS=loopback)\n");
        return;
      }
      const query = new URL(req.url ?? "/", "http://localhost").searchParams;
      const namespace = query.get("namespace");
      const limit = pageLimit(query.get("limit"));
      if (limit === undefined) {
        res
          .writeHead(400, { "content-type": "text/plain" })
          .end(`limit must be a positive whole number (a page holds at most ${DEBUG_PAGE_MAX} decisions)\n`);
        return;
      }
      const all = deps
        .decisions()
        .filter((d) => namespace === null || d.scaledObject.namespace === namespace)
        .sort((a, b) =>
          `${a.scaledObject.namespace}/${a.scaledObject.name}`.localeCompare(
            `${b.scaledObject.namespace}/${b.scaledObject.name}`,
          ),
        );
      // Only the page shown is made whole again, with decide() from each kept decision's inputs,
      // in slices with a turn of the event loop between them: a page of 2,000 is ~100 ms of
      // deciding, which KEDA's calls must not wait behind.
      const decisions: Decision[] = [];
      for (const kept of all.slice(0, limit)) {
        if (decisions.length > 0 && decisions.length % DEBUG_SLICE === 0) await yieldToCalls();
        if (res.destroyed) return;
        decisions.push(fullDecision(kept));
      }
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(`${JSON.stringify({ total: all.length, shown: decisions.length, decisions })}\n`);
    };

  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const route = req.method === "GET" || req.method === "HEAD" ? routes[path] : undefined;
    if (!route) {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end(`not found; try ${Object.keys(routes).join(", ")}\n`);
      return;
    }
    // A route that throws at once is caught like one that rejects: a throw out of this listener
    // would end the process.
    new Promise<void>((resolve) => resolve(route(res, req))).catch((error: unknown) => {
      deps.logger.error({ err: error, path }, "HTTP endpoint failed");
      // Past the headers, a cut-off body is the only honest answer: the scraper sees an error,
      // not a truncated exposition it would take for complete.
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
}

/** True for a connection from this host: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopback(remoteAddress: string | undefined): boolean {
  if (!remoteAddress) return false;
  const v4 = remoteAddress.startsWith("::ffff:") ? remoteAddress.slice("::ffff:".length) : remoteAddress;
  return v4.startsWith("127.") || remoteAddress === "::1";
}

export function listenHttp(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
