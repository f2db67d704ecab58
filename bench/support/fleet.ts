/**
 * What the load benches read: a real Prometheus (the Debian package, as in the tests) scraping
 * two vLLM pods per namespace, their GPUs (DCGM) and kube-state-metrics, and the ScaledObjects
 * KEDA would poll against it. `npm run bench:grpc` drives the scaler through gRPC against this
 * fleet; `npm run bench:decisions` drives its decision book directly against the same one, started
 * as a process of its own (fleet-process.ts): run as a script, this file starts the fleet, prints
 * `{"url": …}` on one line once it is up, and stops it when its stdin closes.
 */
import { fileURLToPath } from "node:url";
import {
  DcgmExporter,
  KubeStateMetricsExporter,
  type PrometheusHarness,
  startPrometheus,
  VllmPodExporter,
} from "../../test/support/prometheus.ts";

export interface Fleet {
  readonly prometheus: PrometheusHarness;
  stop(): Promise<void>;
}

/**
 * Starts the fleet and waits until Prometheus has scraped a token rate for every pod. Stops what
 * it started when that fails, so a failed start leaves nothing running.
 */
export async function startFleet(namespaces: number): Promise<Fleet> {
  const pods: VllmPodExporter[] = [];
  const dcgm = new DcgmExporter();
  const ksm = new KubeStateMetricsExporter();
  for (let n = 0; n < namespaces; n++) {
    const namespace = `tenant-${n}`;
    for (let p = 0; p < 2; p++) {
      const pod = new VllmPodExporter(namespace, `vllm-${n}-5d8f7c9b6-pod${p}`, "llama-3-70b");
      pod.setWaiting(n % 5);
      pod.setRunning(16);
      pod.setKvCacheUsage(0.5 + (n % 4) / 10);
      dcgm.setGpu({
        index: p,
        host: `gpu-node-${n}`,
        pod: { namespace, name: pod.pod },
        utilPercent: 60,
        grEngineActive: 0.5,
      });
      pods.push(pod);
    }
    ksm.setDeployment(namespace, `vllm-${n}`, { desired: 2, ready: 2 });
  }
  const tick = () => {
    for (const pod of pods) {
      pod.observeTtft([0.3, 0.4, 0.5, 0.8]);
      pod.addGenerationTokens(50);
    }
  };
  tick();
  const ticker = setInterval(tick, 250);
  let prometheus: PrometheusHarness;
  try {
    prometheus = await startPrometheus({ vllm: pods, dcgm: [dcgm], kubeStateMetrics: [ksm] });
  } catch (error) {
    clearInterval(ticker);
    throw error;
  }
  const fleet: Fleet = {
    prometheus,
    stop: async () => {
      clearInterval(ticker);
      await prometheus.stop();
    },
  };
  try {
    await prometheus.waitFor(
      "count(rate(vllm:generation_tokens_total[10s]) > 0)",
      (n) => n === pods.length,
      60_000,
    );
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  return fleet;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Told to stop (stdin closed: the bench is done or gone; or a signal) at any time, even while
  // the fleet is still starting: then it is stopped as soon as it is up, never left running.
  let fleet: Fleet | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // While it is starting, the start's end stops it (below): exiting now would leave Prometheus.
    if (fleet) void fleet.stop().finally(() => process.exit(0));
  };
  process.stdin.on("end", stop).on("error", stop).resume();
  process.stdout.on("error", stop);
  process.once("SIGINT", stop).once("SIGTERM", stop);
  fleet = await startFleet(Number(process.argv[2] ?? "20"));
  if (stopping) await fleet.stop().finally(() => process.exit(0));
  else process.stdout.write(`${JSON.stringify({ url: fleet.prometheus.url })}\n`);
}
