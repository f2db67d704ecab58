import type { ServerResponse } from "node:http";
import { type CertificateAuthority, makeCa, makeLeaf, tempDir } from "./certs.ts";
import { FakeHttpServer, type RecordedRequest } from "./fake-http.ts";

/**
 * A local HTTPS stand-in for Azure Monitor's regional metrics endpoint: answers
 * `POST /subscriptions/{id}/metrics:getBatch` (api-version 2024-02-01) with the batch JSON shape,
 * for `@azure/monitor-query-metrics`' MetricsClient with a fake TokenCredential.
 */

export interface DataPoint {
  /** Start of the one-minute bucket, in minutes before now (0 = the current minute). */
  minutesAgo: number;
  average?: number;
}

export interface MonitorFault {
  status?: number;
  retryAfter?: string;
  delayMs?: number;
  body?: string;
}

export class AzureMonitorEndpoint {
  readonly ca: CertificateAuthority;
  private readonly server: FakeHttpServer;
  /** Data per resource id (compared case-insensitively, as ARM does). */
  readonly series = new Map<string, DataPoint[]>();
  fault: MonitorFault | undefined;
  readonly token = "fake-entra-token-for-metrics";

  constructor() {
    const dir = tempDir("azure-monitor-endpoint-");
    this.ca = makeCa(dir, "azure-monitor-test-ca");
    this.server = new FakeHttpServer(makeLeaf(this.ca, "metrics", { server: true }));
    this.server.handler = (request, res) => this.answer(request, res);
  }

  get url(): string {
    return this.server.url;
  }

  get requests(): readonly RecordedRequest[] {
    return this.server.requests;
  }

  async start(): Promise<this> {
    await this.server.listen();
    return this;
  }

  stop(): Promise<void> {
    return this.server.close();
  }

  private answer(request: RecordedRequest, res: ServerResponse): void {
    const respond = () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res
          .writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
          .end(typeof body === "string" ? body : JSON.stringify(body));
      const fault = this.fault;
      if (fault?.status)
        return json(
          fault.status,
          { error: { code: "ScriptedFault", message: "Scripted fault" } },
          fault.retryAfter ? { "retry-after": fault.retryAfter } : {},
        );
      if (request.headers.authorization !== `Bearer ${this.token}`)
        return json(401, {
          error: { code: "InvalidAuthenticationToken", message: "The access token is invalid." },
        });
      if (fault?.body !== undefined) return json(200, fault.body);
      const url = new URL(request.url, this.url);
      const match = /^\/subscriptions\/([^/]+)\/metrics:getBatch$/.exec(url.pathname);
      if (!match || request.method !== "POST")
        return json(404, { error: { code: "NotFound", message: "no route" } });
      const metric = url.searchParams.get("metricnames") ?? "";
      const namespace = url.searchParams.get("metricnamespace") ?? "";
      const resourceIds = (JSON.parse(request.body) as { resourceids: string[] }).resourceids;
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      json(200, {
        values: resourceIds.map((resourceId) => ({
          starttime: url.searchParams.get("starttime"),
          endtime: url.searchParams.get("endtime"),
          interval: url.searchParams.get("interval"),
          namespace: namespace.toLowerCase(),
          resourceregion: "westeurope",
          resourceid: resourceId,
          value: [
            {
              id: `${resourceId}/providers/Microsoft.Insights/metrics/${metric}`,
              type: "Microsoft.Insights/metrics",
              // A localized display name, as a non-English portal locale returns it.
              name: { value: metric, localizedValue: "GPU-Auslastung (%)" },
              displayDescription: "GPU utilisation of the node",
              unit: "Percent",
              errorCode: "Success",
              timeseries: [
                {
                  metadatavalues: [],
                  data: (this.series.get(resourceId.toLowerCase()) ?? []).map((point) => ({
                    timeStamp: new Date(minute - point.minutesAgo * 60_000).toISOString(),
                    ...(point.average === undefined ? {} : { average: point.average }),
                  })),
                },
              ],
            },
          ],
        })),
      });
    };
    if (this.fault?.delayMs) setTimeout(respond, this.fault.delayMs);
    else respond();
  }
}
