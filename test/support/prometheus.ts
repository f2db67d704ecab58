import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { stringify } from "yaml";

/**
 * A real Prometheus (the Debian `prometheus` binary) on 127.0.0.1, scraping small prom-client
 * exporters that emit the exact vLLM, DCGM and kube-state-metrics names and labels of
 * docs/sources.md. One instance per test file (start it in beforeAll): it takes about a second to
 * become ready, and `rate()` needs two scrapes before it answers.
 */

const PROMETHEUS_BINARY = process.env.PROMETHEUS_BINARY ?? "/usr/bin/prometheus";

/** vLLM's TTFT histogram buckets, as vLLM declares them. */
export const VLLM_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];

/** vLLM's end-to-end request latency buckets, as vLLM declares them. */
export const VLLM_E2E_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];

/** One HTTP /metrics endpoint on 127.0.0.1 serving a prom-client registry. */
export class Exporter {
  readonly registry = new Registry();
  private server: Server | undefined;
  port = 0;

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * One vLLM server pod. In a cluster Prometheus adds `namespace` and `pod` as target labels (from
 * the ServiceMonitor/PodMonitor); here they are static target labels of the scrape job.
 */
export class VllmPodExporter extends Exporter {
  private readonly labels: { model_name: string; engine: string };
  private readonly waiting: Gauge<"model_name" | "engine">;
  private readonly running: Gauge<"model_name" | "engine">;
  private readonly kvCache: Gauge<"model_name" | "engine">;
  private readonly legacyKvCache: Gauge<"model_name" | "engine">;
  private readonly ttft: Histogram<"model_name" | "engine">;
  private readonly e2e: Histogram<"model_name" | "engine">;
  private readonly generationTokens: Counter<"model_name" | "engine">;
  private readonly promptTokens: Counter<"model_name" | "engine">;

  constructor(
    readonly namespace: string,
    readonly pod: string,
    readonly model: string,
    /** Servers older than v0.9.2 only have `vllm:gpu_cache_usage_perc`. */
    readonly legacyKvCacheName = false,
  ) {
    super();
    this.labels = { model_name: model, engine: "0" };
    const labelNames = ["model_name", "engine"] as const;
    const registers = [this.registry];
    this.waiting = new Gauge({
      name: "vllm:num_requests_waiting",
      help: "Number of requests waiting to be processed.",
      labelNames,
      registers,
    });
    this.running = new Gauge({
      name: "vllm:num_requests_running",
      help: "Number of requests in model execution batches.",
      labelNames,
      registers,
    });
    this.kvCache = new Gauge({
      name: "vllm:kv_cache_usage_perc",
      help: "KV-cache usage. 1 means 100 percent usage.",
      labelNames,
      registers: legacyKvCacheName ? [] : registers,
    });
    this.legacyKvCache = new Gauge({
      name: "vllm:gpu_cache_usage_perc",
      help: "GPU KV-cache usage. 1 means 100 percent usage.",
      labelNames,
      registers: legacyKvCacheName ? registers : [],
    });
    this.ttft = new Histogram({
      name: "vllm:time_to_first_token_seconds",
      help: "Histogram of time to first token in seconds.",
      labelNames,
      buckets: VLLM_TTFT_BUCKETS,
      registers,
    });
    this.e2e = new Histogram({
      name: "vllm:e2e_request_latency_seconds",
      help: "Histogram of e2e request latency in seconds.",
      labelNames,
      buckets: VLLM_E2E_BUCKETS,
      registers,
    });
    this.generationTokens = new Counter({
      name: "vllm:generation_tokens_total",
      help: "Number of generation tokens processed.",
      labelNames,
      registers,
    });
    this.promptTokens = new Counter({
      name: "vllm:prompt_tokens_total",
      help: "Number of prefill tokens processed.",
      labelNames,
      registers,
    });
    this.setWaiting(0);
    this.setRunning(0);
    this.setKvCacheUsage(0);
    this.generationTokens.inc(this.labels, 0);
    this.promptTokens.inc(this.labels, 0);
    this.ttft.zero(this.labels);
    this.e2e.zero(this.labels);
  }

  setWaiting(requests: number): void {
    this.waiting.set(this.labels, requests);
  }

  setRunning(requests: number): void {
    this.running.set(this.labels, requests);
  }

  setKvCacheUsage(fraction: number): void {
    (this.legacyKvCacheName ? this.legacyKvCache : this.kvCache).set(this.labels, fraction);
  }

  observeTtft(seconds: readonly number[]): void {
    for (const value of seconds) this.ttft.observe(this.labels, value);
  }

  observeE2eLatency(seconds: readonly number[]): void {
    for (const value of seconds) this.e2e.observe(this.labels, value);
  }

  addGenerationTokens(tokens: number): void {
    this.generationTokens.inc(this.labels, tokens);
  }

  addPromptTokens(tokens: number): void {
    this.promptTokens.inc(this.labels, tokens);
  }
}

/**
 * NVIDIA dcgm-exporter with Kubernetes pod attribution: the exporter itself puts `pod`,
 * `namespace` and `container` on each GPU series (scraped with honor_labels, as its chart does).
 */
export class DcgmExporter extends Exporter {
  private readonly util: Gauge<string>;
  private readonly grEngineActive: Gauge<string>;
  private readonly framebufferUsed: Gauge<string>;
  private readonly framebufferFree: Gauge<string>;
  private static readonly LABELS = [
    "gpu",
    "UUID",
    "pci_bus_id",
    "device",
    "modelName",
    "Hostname",
    "container",
    "namespace",
    "pod",
  ];

  constructor() {
    super();
    const common = { labelNames: DcgmExporter.LABELS, registers: [this.registry] };
    this.util = new Gauge({ name: "DCGM_FI_DEV_GPU_UTIL", help: "GPU utilization (in %).", ...common });
    this.grEngineActive = new Gauge({
      name: "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
      help: "Ratio of time the graphics engine is active.",
      ...common,
    });
    this.framebufferUsed = new Gauge({
      name: "DCGM_FI_DEV_FB_USED",
      help: "Framebuffer memory used (in MiB).",
      ...common,
    });
    this.framebufferFree = new Gauge({
      name: "DCGM_FI_DEV_FB_FREE",
      help: "Framebuffer memory free (in MiB).",
      ...common,
    });
  }

  /** `pod` undefined: an idle GPU, which carries empty pod/namespace labels. */
  setGpu(gpu: {
    index: number;
    host: string;
    pod?: { namespace: string; name: string };
    utilPercent: number;
    grEngineActive: number;
    /** Framebuffer MiB in use and free; unset: an 80 GB GPU with nothing loaded. */
    framebufferMiB?: { used: number; free: number };
  }): void {
    const labels = {
      gpu: String(gpu.index),
      UUID: `GPU-${gpu.host}-${gpu.index}-0000-0000`,
      pci_bus_id: `00000000:0${gpu.index}:00.0`,
      device: `nvidia${gpu.index}`,
      modelName: "NVIDIA A100 80GB PCIe",
      Hostname: gpu.host,
      container: gpu.pod ? "vllm" : "",
      namespace: gpu.pod?.namespace ?? "",
      pod: gpu.pod?.name ?? "",
    };
    this.util.set(labels, gpu.utilPercent);
    this.grEngineActive.set(labels, gpu.grEngineActive);
    const framebuffer = gpu.framebufferMiB ?? { used: 0, free: 81_920 };
    this.framebufferUsed.set(labels, framebuffer.used);
    this.framebufferFree.set(labels, framebuffer.free);
  }
}

/** kube-state-metrics' Deployment replica series (scraped with honor_labels, as its chart does). */
export class KubeStateMetricsExporter extends Exporter {
  private readonly spec: Gauge<"namespace" | "deployment">;
  private readonly ready: Gauge<"namespace" | "deployment">;
  private readonly unavailable: Gauge<"namespace" | "deployment">;

  constructor() {
    super();
    const common = { labelNames: ["namespace", "deployment"] as const, registers: [this.registry] };
    this.spec = new Gauge({ name: "kube_deployment_spec_replicas", help: "Desired pods.", ...common });
    this.ready = new Gauge({
      name: "kube_deployment_status_replicas_ready",
      help: "Ready replicas.",
      ...common,
    });
    this.unavailable = new Gauge({
      name: "kube_deployment_status_replicas_unavailable",
      help: "Unavailable replicas.",
      ...common,
    });
  }

  setDeployment(namespace: string, deployment: string, replicas: { desired: number; ready: number }): void {
    const labels = { namespace, deployment };
    this.spec.set(labels, replicas.desired);
    this.ready.set(labels, replicas.ready);
    this.unavailable.set(labels, Math.max(0, replicas.desired - replicas.ready));
  }

  private podTimes: Record<"created" | "scheduled" | "ready", Gauge<"namespace" | "pod" | "uid">> | undefined;

  /**
   * A pod's kube-state-metrics timestamps (Unix seconds): kube_pod_created always,
   * kube_pod_status_scheduled_time once bound to a node, kube_pod_status_ready_time once Ready
   * (kube-state-metrics 2.8 and later). As kube-state-metrics does, nothing for a step not reached.
   */
  setPod(
    namespace: string,
    pod: string,
    uid: string,
    times: { created: number; scheduled?: number; ready?: number },
  ): void {
    const common = { labelNames: ["namespace", "pod", "uid"] as const, registers: [this.registry] };
    this.podTimes ??= {
      created: new Gauge({ name: "kube_pod_created", help: "Unix creation timestamp.", ...common }),
      scheduled: new Gauge({
        name: "kube_pod_status_scheduled_time",
        help: "Unix timestamp when pod moved into scheduled status.",
        ...common,
      }),
      ready: new Gauge({
        name: "kube_pod_status_ready_time",
        help: "Time when pod passed readiness probes.",
        ...common,
      }),
    };
    const labels = { namespace, pod, uid };
    this.podTimes.created.set(labels, times.created);
    if (times.scheduled !== undefined) this.podTimes.scheduled.set(labels, times.scheduled);
    if (times.ready !== undefined) this.podTimes.ready.set(labels, times.ready);
  }

  /** The pod is deleted: kube-state-metrics stops exporting its series. */
  deletePod(namespace: string, pod: string, uid: string): void {
    for (const gauge of Object.values(this.podTimes ?? {})) gauge.remove({ namespace, pod, uid });
  }
}

export interface PrometheusHarness {
  readonly url: string;
  /** Instant query straight against the HTTP API (for waiting on data, not for assertions). */
  query(expr: string): Promise<{ value: number; labels: Record<string, string> }[]>;
  /** Polls until the query returns a finite value accepted by `ready` (or fails after timeoutMs). */
  waitFor(expr: string, ready?: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function scrapeConfig(
  vllm: readonly VllmPodExporter[],
  dcgm: readonly DcgmExporter[],
  ksm: readonly KubeStateMetricsExporter[],
  interval: string,
  extra: readonly ScrapeJob[],
) {
  const job = (name: string, honorLabels: boolean, targets: { targets: string[]; labels?: object }[]) => ({
    job_name: name,
    scrape_interval: interval,
    scrape_timeout: interval,
    honor_labels: honorLabels,
    static_configs: targets,
  });
  return {
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: [
      job(
        "vllm",
        false,
        vllm.map((e) => ({ targets: [e.target], labels: { namespace: e.namespace, pod: e.pod } })),
      ),
      job("dcgm-exporter", true, dcgm.length ? [{ targets: dcgm.map((e) => e.target) }] : []),
      job("kube-state-metrics", true, ksm.length ? [{ targets: ksm.map((e) => e.target) }] : []),
      ...extra.map((j) => ({ scrape_interval: interval, scrape_timeout: interval, ...j })),
    ].filter((j) => j.static_configs.length > 0),
  };
}

/** A scrape job written out as is (for jobs shaped like what an operator generates). */
export interface ScrapeJob {
  readonly job_name: string;
  readonly honor_labels?: boolean;
  readonly metrics_path?: string;
  readonly static_configs: readonly { targets: string[]; labels?: Record<string, string> }[];
  readonly relabel_configs?: readonly Record<string, unknown>[];
}

async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(killer);
}

/**
 * Starts the exporters (if not listening yet) and a Prometheus scraping them every
 * `scrapeInterval` (default 1s). Retries on a port clash.
 */
export async function startPrometheus(options: {
  vllm?: readonly VllmPodExporter[];
  dcgm?: readonly DcgmExporter[];
  kubeStateMetrics?: readonly KubeStateMetricsExporter[];
  /** Further targets, e.g. the scaler itself, scraped with their own job settings. */
  jobs?: readonly ScrapeJob[];
  scrapeInterval?: string;
}): Promise<PrometheusHarness> {
  const exporters = [...(options.vllm ?? []), ...(options.dcgm ?? []), ...(options.kubeStateMetrics ?? [])];
  for (const exporter of exporters) if (exporter.port === 0) await exporter.listen();
  const dir = mkdtempSync(join(tmpdir(), "prometheus-harness-"));
  const configFile = join(dir, "prometheus.yml");
  writeFileSync(
    configFile,
    stringify(
      scrapeConfig(
        options.vllm ?? [],
        options.dcgm ?? [],
        options.kubeStateMetrics ?? [],
        options.scrapeInterval ?? "1s",
        options.jobs ?? [],
      ),
    ),
  );

  let child: ChildProcess | undefined;
  let url = "";
  let stderr = "";
  for (let attempt = 0; attempt < 3 && !child; attempt++) {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const candidate = spawn(
      PROMETHEUS_BINARY,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    candidate.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    if (await waitUntilReady(url, candidate, 20_000)) child = candidate;
    else await stopProcess(candidate);
  }
  if (!child) {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all(exporters.map((e) => e.close()));
    throw new Error(`prometheus did not become ready: ${stderr}`);
  }
  const running = child;

  const query = async (expr: string) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
      signal: AbortSignal.timeout(5000),
    });
    const body = (await response.json()) as {
      data?: { result?: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return (body.data?.result ?? []).map((r) => ({ value: Number(r.value[1]), labels: r.metric }));
  };

  return {
    url,
    query,
    async waitFor(expr, ready = () => true, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last: number | undefined;
      while (Date.now() < deadline) {
        const result = await query(expr);
        last = result[0]?.value;
        if (last !== undefined && Number.isFinite(last) && ready(last)) return last;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`prometheus: ${expr} did not become ready (last value ${last})`);
    },
    async stop() {
      await stopProcess(running);
      await Promise.all(exporters.map((e) => e.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
