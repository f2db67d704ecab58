import { createServer } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { type RunningScaler, startScalerServer } from "../../src/server/scaler-server.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import { startCli } from "../support/cli.ts";
import {
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../support/prometheus.ts";
import { eventually, KedaLikeClient, ONE_PER_MESSAGE, ref } from "../support/scaler-harness.ts";

/**
 * KEDA's client balances round-robin over the headless Service, so consecutive polls of one
 * ScaledObject alternate between the scaler's replicas. Here two real `keda-llm-scaler serve`
 * processes share their policy memory (PEERS_DNS), one real Prometheus scrapes vLLM and
 * kube-state-metrics exporters, and a client built from KEDA's proto alternates between the two
 * for a timeline of polls whose backlog changes. Their answers must be those of one scaler
 * process fed the same timeline — also after one replica is stopped and started again mid-way.
 * A replica that keeps its memory to itself (polled every other step, like one of two unshared
 * replicas) answers differently on the same timeline: that is what the sharing fixes.
 *
 * Deterministic: each step waits until Prometheus serves its value, and until the replica that
 * decided has its memory acknowledged by the other (its pending gauge back to 0); no sleeps, no
 * wall-clock assertions, every wait bounded.
 */

const NAMESPACE = "inference";
const busy = new VllmPodExporter(NAMESPACE, "vllm-chat-7d9f8b6c5-x2k4p", "llama-3-70b");
const idle = new VllmPodExporter(NAMESPACE, "vllm-chat-7d9f8b6c5-q8z7m", "llama-3-70b");
const ksm = new KubeStateMetricsExporter();
let prometheus: PrometheusHarness;

/** Only the backlog votes (one replica per waiting request); the rest of the memory is what differs. */
const BACKLOG_ONLY = {
  ...ONE_PER_MESSAGE,
  deployment: "vllm-chat",
  modelName: "llama-3-70b",
  rateWindow: "10s",
  ttftEnabled: "false",
  kvCacheEnabled: "false",
  gpuEnabled: "false",
  tokensEnabled: "false",
};
const SCALED_OBJECTS = [
  // The scale-down band (hysteresis) remembers the previous answer.
  ref("chat-band", BACKLOG_ONLY, NAMESPACE),
  // The scale-down delay remembers every answer of the last ten minutes.
  ref("chat-delay", { ...BACKLOG_ONLY, scaleDownDelaySeconds: "600" }, NAMESPACE),
];
/** Requests waiting at each step of the timeline. */
const TIMELINE = [4, 10, 9, 6, 12, 11, 5, 8, 3, 7, 2, 9];
/** The replica at odd steps (B) is stopped after this step and started again before its next one. */
const RESTART_AFTER_STEP = 5;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Answer {
  readonly value: number;
  readonly active: boolean;
}

/** One KEDA poll of every ScaledObject: GetMetrics then IsActive. */
async function poll(client: KedaLikeClient): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const scaledObjectRef of SCALED_OBJECTS) {
    const metrics = await client.call<{ metricValues: { metricValueFloat: number }[] }>("GetMetrics", {
      scaledObjectRef,
      metricName: "llm-desired-replicas",
    });
    const active = await client.call<{ result: boolean }>("IsActive", scaledObjectRef);
    answers.push({ value: metrics.metricValues[0]!.metricValueFloat, active: active.result });
  }
  return answers;
}

/** A `keda-llm-scaler serve` process on fixed ports (a restart comes back where its peer expects it). */
class ServeProcess {
  private process: ReturnType<typeof startCli> | undefined;
  client: KedaLikeClient | undefined;

  constructor(
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    this.process = startCli(["serve"], {
      ...this.env,
      GRPC_PORT: String(this.grpcPort),
      HTTP_PORT: String(this.httpPort),
    });
    const running = this.process;
    // Ready only once it holds its peer's memory (or found none): KEDA is not sent here before.
    await eventually(
      async () => {
        if (running.child.exitCode !== null) throw new Error(`serve exited: ${running.stderr()}`);
        const response = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`);
        expect(response.status).toBe(200);
      },
      60_000,
      100,
    );
    this.client = new KedaLikeClient(`127.0.0.1:${this.grpcPort}`);
  }

  async stop(): Promise<number | null> {
    this.client?.close();
    this.client = undefined;
    const running = this.process;
    this.process = undefined;
    if (!running || running.child.exitCode !== null) return running?.child.exitCode ?? null;
    running.child.kill("SIGTERM");
    return running.exited;
  }

  lines(): readonly string[] {
    return this.process?.lines ?? [];
  }

  async metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`${name} not in /metrics`);
    return Number(line.slice(name.length + 1));
  }

  /** Waits until every memory decided here is acknowledged by the peer. */
  async synced(): Promise<void> {
    await eventually(
      async () => expect(await this.metric("keda_llm_scaler_peer_memory_pending")).toBe(0),
      20_000,
      20,
    );
  }
}

let single: ServeProcess;
let pair: [ServeProcess, ServeProcess];
let unshared: RunningScaler;
let unsharedClient: KedaLikeClient;

beforeAll(async () => {
  busy.setWaiting(0);
  ksm.setDeployment(NAMESPACE, "vllm-chat", { desired: 2, ready: 2 });
  prometheus = await startPrometheus({ vllm: [busy, idle], kubeStateMetrics: [ksm] });
  await prometheus.waitFor(
    "count(kube_deployment_status_replicas_ready) + count(vllm:num_requests_waiting)",
    (n) => n === 3,
  );
  const common = {
    LISTEN_HOST: "127.0.0.1",
    PROMETHEUS_URL: prometheus.url,
    // Every poll reads Prometheus afresh and decides afresh: a step can follow the previous one
    // within milliseconds (Prometheus may scrape right after the exporter changes), and a decision
    // reused from the previous step would answer for the old backlog. GetMetrics and IsActive of
    // one poll may then decide twice on the same readings, which gives the same answer.
    SOURCE_CACHE_TTL_MS: "0",
    DECISION_TTL_SECONDS: "0.001",
    SHUTDOWN_GRACE_SECONDS: "2",
    LOG_LEVEL: "info",
  };
  const [a, b, s] = await Promise.all([freePort(), freePort(), freePort()]);
  const [ah, bh, sh] = await Promise.all([freePort(), freePort(), freePort()]);
  // The pair answers on the answer thread, whose relay carries the replicas' memory calls to the
  // main thread: the test proves the relay as well as the sharing.
  const peers = {
    ...common,
    PEERS_DNS: `127.0.0.1:${a},127.0.0.1:${b}`,
    PEERS_STARTUP_SECONDS: "10",
    ANSWER_THREAD: "true",
  };
  single = new ServeProcess(s!, sh!, common);
  pair = [new ServeProcess(a!, ah!, peers), new ServeProcess(b!, bh!, peers)];
  await Promise.all([single.start(), pair[0].start(), pair[1].start()]);
  // One replica of two that do not share: polled at every other step, in this process.
  const env = { ...common, GRPC_PORT: "0", HTTP_PORT: "0" };
  const config = loadServiceConfig(env);
  unshared = await startScalerServer({
    config,
    env,
    source: createSignalSource(config),
    logger: pino({ level: "silent" }),
  });
  unsharedClient = new KedaLikeClient(`127.0.0.1:${unshared.grpcPort}`);
}, 120_000);

afterAll(async () => {
  unsharedClient?.close();
  await unshared?.shutdown();
  await Promise.all([single?.stop(), ...(pair ?? []).map((p) => p.stop())]);
  await prometheus?.stop();
}, 30_000);

describe("two scaler replicas sharing memory (PEERS_DNS)", () => {
  it("answer like one scaler on an alternating timeline, across a restart of one of them", async () => {
    const expected: Answer[][] = [];
    const alternating: Answer[][] = [];
    const alone: Answer[][] = [];
    let restartedFrom: string | undefined;
    for (const [step, waiting] of TIMELINE.entries()) {
      busy.setWaiting(waiting);
      await prometheus.waitFor(
        `sum(vllm:num_requests_waiting{pod="${busy.pod}"})`,
        (value) => value === waiting,
      );
      expected.push(await poll(single.client!));
      const replica = pair[step % 2]!;
      alternating.push(await poll(replica.client!));
      if (step % 2 === 0) alone.push(await poll(unsharedClient));
      if (step === RESTART_AFTER_STEP + 1) {
        // The other replica was down for this step: it copies the memory when it starts again.
        await pair[1].start();
        await eventually(() => {
          restartedFrom = pair[1].lines().find((l) => l.includes("policy memory copied from a peer"));
          expect(restartedFrom).toBeDefined();
        });
      } else await replica.synced();
      if (step === RESTART_AFTER_STEP) expect(await pair[1].stop()).toBe(0);
    }

    process.stdout.write(
      `[two replicas] backlog ${TIMELINE.join(", ")}\n` +
        `  one scaler      ${expected.map((a) => a.map((x) => x.value).join("/")).join(", ")}\n` +
        `  shared pair     ${alternating.map((a) => a.map((x) => x.value).join("/")).join(", ")}\n` +
        `  unshared (even) ${alone.map((a) => a.map((x) => x.value).join("/")).join(", ")}\n`,
    );
    expect(alternating).toEqual(expected);
    // It copied both ScaledObjects' memories from the replica that stayed up.
    expect(JSON.parse(restartedFrom!)).toMatchObject({ from: `127.0.0.1:${pair[0].grpcPort}`, received: 2 });
    // The timeline exercises the memory: a replica that saw only every other step answers otherwise.
    expect(alone).not.toEqual(expected.filter((_, step) => step % 2 === 0));
    // Both ScaledObjects went up and (for the band one) down again: not a constant timeline.
    expect(new Set(expected.map((a) => a[0]!.value)).size).toBeGreaterThan(4);
  }, 180_000);
});
