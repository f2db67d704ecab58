import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { decide } from "../../src/policy/decide.ts";
import { createSignalSource } from "../../src/sources/collect.ts";
import { prometheusQuery } from "../../src/sources/prometheus/queries.ts";
import { KubeStateMetricsExporter, type PrometheusHarness, startPrometheus } from "../support/prometheus.ts";

/**
 * The measured lead time against a real Prometheus scraping kube-state-metrics' pod timestamps
 * (two kube-state-metrics replicas, as an HA install runs them: every series twice). Only the
 * target's pods that were created within the window and waited for a node count; the median of
 * their created → Ready times is the reading.
 */

const nowS = Math.floor(Date.now() / 1000);
const ksm = [new KubeStateMetricsExporter(), new KubeStateMetricsExporter()];
let prometheus: PrometheusHarness;

const setPod = (
  namespace: string,
  pod: string,
  times: { created: number; scheduled?: number; ready?: number },
) => {
  for (const exporter of ksm) exporter.setPod(namespace, pod, `uid-${pod}`, times);
};

const spec = parseScalerSpec(
  { name: "llama-so", namespace: "team-a" },
  { deployment: "llama", leadTimeWindowHours: "1", leadTimeSeconds: "480" },
  {},
);

beforeAll(async () => {
  // Waited for a node (scheduled minutes after creation): 520 s and 380 s to Ready.
  setPod("team-a", "llama-7d9f8b6c5-aaaaa", {
    created: nowS - 2000,
    scheduled: nowS - 1600,
    ready: nowS - 1480,
  });
  setPod("team-a", "llama-7d9f8b6c5-bbbbb", {
    created: nowS - 1500,
    scheduled: nowS - 1200,
    ready: nowS - 1120,
  });
  // Landed on a warm node (scheduled at once): 90 s to Ready, not the lead time of a node.
  setPod("team-a", "llama-7d9f8b6c5-ccccc", {
    created: nowS - 1000,
    scheduled: nowS - 999,
    ready: nowS - 910,
  });
  // Still loading its model: no Ready time yet.
  setPod("team-a", "llama-7d9f8b6c5-ddddd", { created: nowS - 900, scheduled: nowS - 550 });
  // Created two days ago and Ready again after a restart today: outside the window.
  setPod("team-a", "llama-7d9f8b6c5-eeeee", {
    created: nowS - 172_800,
    scheduled: nowS - 172_400,
    ready: nowS - 300,
  });
  // A sibling Deployment and another namespace: never counted.
  setPod("team-a", "llama-guard-5c6d7e8f9-zzzzz", {
    created: nowS - 800,
    scheduled: nowS - 300,
    ready: nowS - 10,
  });
  setPod("team-b", "llama-7d9f8b6c5-fffff", { created: nowS - 800, scheduled: nowS - 200, ready: nowS - 5 });
  // 600 s to Ready; deleted (scaled down) once Prometheus has scraped it.
  setPod("team-a", "llama-7d9f8b6c5-ggggg", {
    created: nowS - 700,
    scheduled: nowS - 280,
    ready: nowS - 100,
  });
  prometheus = await startPrometheus({ kubeStateMetrics: ksm });
  await prometheus.waitFor('count(kube_pod_status_ready_time{pod="llama-7d9f8b6c5-ggggg"})', (n) => n === 2);
  for (const exporter of ksm)
    exporter.deletePod("team-a", "llama-7d9f8b6c5-ggggg", "uid-llama-7d9f8b6c5-ggggg");
  // Two more scrapes: the deleted pod's series have ended.
  await new Promise((resolve) => setTimeout(resolve, 2500));
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
});

describe("measured lead time (kube-state-metrics through Prometheus)", () => {
  it("is the median created → Ready time of the target's recent pods that waited for a node", async () => {
    const source = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: prometheus.url, SOURCE_CACHE_TTL_MS: "0" }),
    );
    const readings = await source.read(spec, { nowMs: Date.now() });
    await source.close();
    // 380, 520 and the deleted pod's 600 (range functions keep a deleted pod's history).
    expect(readings.leadTimeObserved).toMatchObject({ ok: true, value: 520 });
    expect(readings.leadTimePods).toMatchObject({ ok: true, value: 3 });
  });

  it("is read every SOURCE_LEAD_TIME_REFRESH_MS and stays usable for two of them, not the live staleness limit", async () => {
    const source = createSignalSource(
      loadServiceConfig({
        PROMETHEUS_URL: prometheus.url,
        SOURCE_STALE_AFTER_SECONDS: "60",
        SOURCE_LEAD_TIME_REFRESH_MS: "600000",
      }),
    );
    const now = Date.now();
    await source.read(spec, { nowMs: now });
    // The same cached answer 15 minutes on: a live reading would be stale after 60 s.
    const later = await source.read(spec, { nowMs: now + 15 * 60_000 });
    expect(later.leadTimeObserved).toMatchObject({ ok: true, value: 520 });
    // Past two refresh periods it is stale, and the forecast keeps the setting.
    const tooLate = await source.read(spec, { nowMs: now + 25 * 60_000 });
    expect(tooLate.leadTimeObserved).toMatchObject({ ok: false, failure: { kind: "stale" } });
    await source.close();
  });

  it("is what the source sends: namespace-scoped, the Deployment's pods, in one request for both readings", () => {
    for (const signal of ["leadTimeObserved", "leadTimePods"] as const) {
      const query = prometheusQuery(spec, signal, { allowCustomQueries: false });
      if (!("expr" in query)) throw new Error(query.failure.message);
      for (const metric of [
        "kube_pod_created",
        "kube_pod_status_scheduled_time",
        "kube_pod_status_ready_time",
      ])
        expect(query.expr).toContain(
          `${metric}{namespace="team-a", pod=~"llama-[a-z0-9]+-[a-z0-9]+"}[3600s]`,
        );
      expect(query.expr).toContain("> time() - 3600");
    }
  });

  it("reads empty where no pod waited for a node within the window, and the forecast keeps the setting", async () => {
    const elsewhere = parseScalerSpec(
      { name: "mistral", namespace: "team-a" },
      { leadTimeWindowHours: "1" },
      {},
    );
    const source = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: prometheus.url, SOURCE_CACHE_TTL_MS: "0" }),
    );
    const readings = await source.read(elsewhere, { nowMs: Date.now() });
    await source.close();
    expect(readings.leadTimeObserved).toMatchObject({ ok: false, failure: { kind: "empty" } });
    const withRead = decide(elsewhere, readings, Date.now()).decision;
    expect(withRead.rules.map((r) => r.note).join(" ")).not.toContain("lead time");
  });

  it("counts a pod's first Ready time: a pod that went unready and Ready again keeps its lead time", async () => {
    // bbbbb (380 s to Ready) restarts its container and is Ready again 50 s ago.
    setPod("team-a", "llama-7d9f8b6c5-bbbbb", {
      created: nowS - 1500,
      scheduled: nowS - 1200,
      ready: nowS - 50,
    });
    await prometheus.waitFor(
      'max(kube_pod_status_ready_time{pod="llama-7d9f8b6c5-bbbbb"})',
      (value) => value === nowS - 50,
    );
    const source = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: prometheus.url, SOURCE_CACHE_TTL_MS: "0" }),
    );
    const readings = await source.read(spec, { nowMs: Date.now() });
    await source.close();
    // Still 380, 520 and 600: with its latest Ready time it would read 1,450 s and move the median to 600.
    expect(readings.leadTimeObserved).toMatchObject({ ok: true, value: 520 });
  });
});
