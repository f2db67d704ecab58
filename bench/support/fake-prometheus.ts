import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A Prometheus HTTP API stand-in for the load benchmark: answers every instant query with one
 * plausible sample for the metric it names and counts the requests, so the benchmark can report
 * upstream requests per KEDA poll. (The integration tests use a real Prometheus; a benchmark needs
 * an upstream whose own cost is negligible and constant.)
 */
const SAMPLE_BY_METRIC: readonly [RegExp, string][] = [
  [/kube_deployment_spec_replicas/, "4"],
  [/kube_deployment_status_replicas_ready/, "4"],
  [/kube_deployment_status_replicas_unavailable/, "0"],
  [/num_requests_waiting/, "3"],
  [/num_requests_running/, "24"],
  [/time_to_first_token_seconds_count/, "5"],
  [/time_to_first_token/, "0.6"],
  [/cache_usage_perc/, "0.55"],
  [/DCGM_FI_PROF_GR_ENGINE_ACTIVE/, "0.6"],
  [/DCGM_FI_DEV_GPU_UTIL/, "60"],
  [/generation_tokens/, "450"],
];

export interface FakePrometheus {
  readonly url: string;
  requests(): number;
  close(): Promise<void>;
}

function sampleFor(query: string): string {
  return SAMPLE_BY_METRIC.find(([pattern]) => pattern.test(query))?.[1] ?? "1";
}

export async function startFakePrometheus(): Promise<FakePrometheus> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      requests++;
      const url = new URL(req.url ?? "/", "http://localhost");
      const query = url.searchParams.get("query") ?? new URLSearchParams(body).get("query") ?? "";
      const payload = {
        status: "success",
        data: {
          resultType: "vector",
          result: [{ metric: {}, value: [Date.now() / 1000, sampleFor(query)] }],
        },
      };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
