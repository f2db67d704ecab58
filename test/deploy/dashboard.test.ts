import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { type RunningScaler, startScalerServer } from "../../src/server/scaler-server.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import {
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../support/prometheus.ts";
import { KedaLikeClient, ref } from "../support/scaler-harness.ts";
import { DEPLOY_DIR, renderKustomization } from "./support/kustomize.ts";
import { serviceMonitorScrapeJob } from "./support/operator-scrape.ts";

interface Target {
  expr: string;
  legendFormat?: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

const dashboard = JSON.parse(
  readFileSync(join(DEPLOY_DIR, "grafana/keda-llm-scaler.json"), "utf8"),
) as Dashboard;

function queries(d: Dashboard): { where: string; expr: string; legend?: string }[] {
  return d.panels.flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ where: panel.title, expr: t.expr, legend: t.legendFormat })),
  );
}

/** The namespace, ScaledObject and Deployment a user picks in the dashboard's variables. */
const NAMESPACE = "llm-inference";
const SCALED_OBJECT = "vllm-realtime";
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";

/** The query Grafana sends once the user has picked this namespace and ScaledObject. */
const substituted = (expr: string) =>
  expr
    .replaceAll("$namespace", NAMESPACE)
    .replaceAll("$scaled_object", SCALED_OBJECT)
    .replaceAll("$deployment", SCALED_OBJECT)
    .replaceAll("$__rate_interval", "1m");

/** Grafana's label_values(selector, label) as the PromQL whose result it lists. */
function labelValuesQuery(definition: string): { expr: string; label: string } {
  const match = /^label_values\((.*),\s*(\w+)\)$/.exec(definition.trim());
  if (!match?.[1] || !match[2]) throw new Error(`not a label_values() definition: ${definition}`);
  return { expr: `group by (${match[2]}) (${substituted(match[1])})`, label: match[2] };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The scaler, its sources reading a real Prometheus, and that Prometheus scraping the scaler's
 * /metrics the way the Prometheus Operator does for deploy/base's ServiceMonitor. The dashboard's
 * queries then run against what Prometheus stored, with the target labels it added: the labels a
 * dashboard sees in a cluster, not the ones /metrics prints.
 */
const vllm = new VllmPodExporter(NAMESPACE, `${SCALED_OBJECT}-6f7d8c9b5-k2x4p`, MODEL);
const ksm = new KubeStateMetricsExporter();
let prometheus: PrometheusHarness;
let scaler: RunningScaler;
let client: KedaLikeClient;
let stream: { cancel(): void } | undefined;
let poller: NodeJS.Timeout | undefined;

beforeAll(async () => {
  vllm.setWaiting(3);
  vllm.setRunning(4);
  vllm.setKvCacheUsage(0.5);
  ksm.setDeployment(NAMESPACE, SCALED_OBJECT, { desired: 2, ready: 2 });
  const httpPort = await freePort();
  const base = renderKustomization("deploy/base").manifests;
  prometheus = await startPrometheus({
    vllm: [vllm],
    kubeStateMetrics: [ksm],
    jobs: [serviceMonitorScrapeJob(base, "keda-llm-scaler", `127.0.0.1:${httpPort}`)],
  });
  // Decisions expire between polls, so sources are read again and the 5 s source cache answers.
  const env = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: String(httpPort),
    DECISION_TTL_SECONDS: "0.1",
  };
  const source = createSignalSource(
    loadServiceConfig({ PROMETHEUS_URL: prometheus.url, ALLOW_CUSTOM_QUERIES: "true" }),
  );
  scaler = await startScalerServer({
    config: loadServiceConfig(env),
    env: {},
    source,
    logger: pino({ level: "silent" }),
    sourceMetrics: () => source.metricsText(),
  });
  client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`);
  const metadata = { deployment: SCALED_OBJECT, modelName: MODEL, rateWindow: "10s", maxReplicas: "8" };
  const realtime = ref(SCALED_OBJECT, metadata, NAMESPACE);
  // A ScaledObject whose Deployment has no vLLM pods and whose custom query Prometheus rejects
  // (one-to-one matching against two series): its reads fail, so the error panels have data.
  const missing = ref(
    "vllm-missing",
    {
      ...metadata,
      deployment: "vllm-missing",
      waitingQuery: `vllm:num_requests_waiting{namespace="${NAMESPACE}"} / on() {__name__=~"vllm:num_requests_.*", namespace="${NAMESPACE}"}`,
    },
    NAMESPACE,
  );
  const poll = () => {
    for (const so of [realtime, missing]) {
      client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }).catch(() => {});
      client.call("IsActive", so).catch(() => {});
    }
  };
  poll();
  poller = setInterval(poll, 500);
  const open = client.stream("StreamIsActive", realtime);
  open.on("error", () => {});
  stream = open;
  await prometheus.waitFor(`keda_llm_scaler_desired_replicas{scaled_object="${SCALED_OBJECT}"}`);
  await prometheus.waitFor(
    `keda_llm_scaler_decision_available{scaled_object="${SCALED_OBJECT}"}`,
    (v) => v === 1,
    30_000,
  );
  await prometheus.waitFor('rate(keda_llm_scaler_source_requests_total{outcome!="ok"}[5m])', (v) => v > 0);
}, 60_000);

afterAll(async () => {
  clearInterval(poller);
  stream?.cancel();
  client?.close();
  await scaler?.shutdown();
  await prometheus?.stop();
});

/** Polls a query until it returns series (bounded), for data that needs two scrapes to show. */
async function seriesOf(expr: string): Promise<Record<string, string>[]> {
  for (let attempt = 0; ; attempt++) {
    const result = await prometheus.query(expr);
    if (result.length > 0 || attempt >= 40) return result.map((r) => r.labels);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("the Grafana dashboard (deploy/grafana/keda-llm-scaler.json)", () => {
  it("is scraped as the ServiceMonitor says, with the operator's target labels", async () => {
    const up = await seriesOf('up{job="keda-llm-scaler"}');
    expect(up).toEqual([
      expect.objectContaining({
        namespace: "keda-llm-scaler",
        service: "keda-llm-scaler",
        container: "scaler",
        endpoint: "http",
      }),
    ]);
    // Node's process metrics under their standard names, labelled as the scaler's.
    expect(await seriesOf('process_cpu_seconds_total{job="keda-llm-scaler"}')).toHaveLength(1);
    expect(await seriesOf('nodejs_heap_size_used_bytes{job="keda-llm-scaler"}')).toHaveLength(1);
  });

  it.each(["deploy/base", "deploy/overlays/aks"])(
    "%s: every ServiceMonitor keeps the scaler's own labels (honorLabels)",
    (dir) => {
      const monitors = renderKustomization(dir).manifests.filter((m) => m.kind === "ServiceMonitor");
      expect(monitors.length).toBeGreaterThan(0);
      for (const monitor of monitors)
        for (const endpoint of (monitor.spec as { endpoints: { honorLabels?: boolean }[] }).endpoints)
          expect(endpoint.honorLabels, `${monitor.apiVersion} ${monitor.metadata.name}`).toBe(true);
    },
  );

  it("lists the ScaledObjects' own namespaces in $namespace, not the scaler's (honorLabels)", async () => {
    const variable = dashboard.templating.list.find((v) => v.name === "namespace");
    const { expr, label } = labelValuesQuery(variable?.definition ?? "");
    const values = (await seriesOf(expr)).map((labels) => labels[label]);
    expect(values).toEqual([NAMESPACE]);
    expect(await prometheus.query('{exported_namespace!=""}')).toEqual([]);
  });

  it.each(dashboard.templating.list.filter((v) => v.definition).map((v) => [v.name, v.definition ?? ""]))(
    "variable %s lists the picked value",
    async (_, definition) => {
      const { expr, label } = labelValuesQuery(definition);
      const values = (await seriesOf(expr)).map((labels) => labels[label]);
      expect(values).toContain(label === "namespace" ? NAMESPACE : SCALED_OBJECT);
    },
  );

  it.each(queries(dashboard).map((q) => [`${q.where}: ${q.expr}`, q] as const))(
    "%s returns series carrying its legend's labels",
    async (_, { expr, legend }) => {
      const series = await seriesOf(substituted(expr));
      expect(series.length).toBeGreaterThan(0);
      const legendLabels = [...(legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? "");
      for (const labels of series) for (const label of legendLabels) expect(labels).toHaveProperty(label);
    },
  );

  it("has the panels an operator asks for first", () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase());
    for (const wanted of [
      /desired vs\. ready/,
      /driving factor/,
      /per-signal demand/,
      /warm floor/,
      /source errors/,
    ])
      expect(
        titles.some((t) => wanted.test(t)),
        String(wanted),
      ).toBe(true);
  });

  it("uses a data-source variable, so it imports into any Grafana", () => {
    expect(dashboard.templating.list.find((v) => v.type === "datasource")?.name).toBe("datasource");
    // Grafana's own variable syntax, not a JavaScript template.
    for (const panel of dashboard.panels.filter((p) => p.type !== "row"))
      expect(panel.datasource?.uid, panel.title).toBe(["$", "{datasource}"].join(""));
  });

  it("would catch a misspelt label or metric: such a query finds nothing in the same Prometheus", async () => {
    for (const wrong of [
      'max by (scaled_object) (keda_llm_scaler_desired_replica{namespace=~"$namespace"})',
      'max by (scaled_object) (keda_llm_scaler_desired_replicas{scaledobject=~"$scaled_object"})',
      'max by (scaled_object) (keda_llm_scaler_desired_replicas{exported_namespace=~"$namespace"})',
    ])
      expect(await prometheus.query(substituted(wrong)), wrong).toEqual([]);
  });
});
