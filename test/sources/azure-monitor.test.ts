import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import type { Reading } from "../../src/readings/reading.ts";
import { createSignalSource, type ScalerSignalSource } from "../../src/sources/collect.ts";
import { AzureMonitorEndpoint, type DataPoint } from "../support/azure-monitor-endpoint.ts";
import { closedPort } from "../support/fake-http.ts";

/**
 * Node GPU utilisation from Azure Monitor: the real @azure/monitor-query-metrics MetricsClient
 * against a local HTTPS metrics:getBatch endpoint, with a fake TokenCredential.
 */

const endpoint = new AzureMonitorEndpoint();
const sources: ScalerSignalSource[] = [];
const scopes: string[] = [];

const VMSS_A =
  "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-gpu-a";
const VMSS_B =
  "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/aks-gpu-b";

const credential: TokenCredential = {
  getToken: async (scope): Promise<AccessToken> => {
    scopes.push(...(Array.isArray(scope) ? scope : [scope]));
    return { token: endpoint.token, expiresOnTimestamp: Date.now() + 3600_000 };
  },
};

function source(env: Record<string, string> = {}, using: TokenCredential = credential): ScalerSignalSource {
  const created = createSignalSource(
    loadServiceConfig({
      AZURE_MONITOR_METRICS_ENDPOINT: endpoint.url,
      AZURE_MONITOR_CA_FILE: endpoint.ca.certFile,
      SOURCE_CACHE_TTL_MS: "0",
      ...env,
    }),
    { credential: () => using },
  );
  sources.push(created);
  return created;
}

async function gpu(from: ScalerSignalSource, metadata: Record<string, string> = {}): Promise<Reading> {
  const spec = parseScalerSpec(
    { name: "llama", namespace: "team-a" },
    { gpuSource: "azureMonitor", azureMonitorResourceIds: `${VMSS_A},${VMSS_B}`, ...metadata },
    {},
  );
  const readings = await from.read(spec, { nowMs: Date.now() });
  if (!readings.gpuUtilisation) throw new Error("no gpuUtilisation reading");
  return readings.gpuUtilisation;
}

function failure(reading: Reading): { kind: string; message: string } {
  if (reading.ok) throw new Error(`expected a failure, got ${reading.value}`);
  return reading.failure;
}

function setSeries(resourceId: string, points: DataPoint[]): void {
  endpoint.series.set(resourceId.toLowerCase(), points);
}

beforeAll(async () => {
  await endpoint.start();
});

beforeEach(() => {
  endpoint.fault = undefined;
  endpoint.series.clear();
  // The current minute is still filling (no average yet); the newest complete ones count.
  setSeries(VMSS_A, [{ minutesAgo: 3, average: 50 }, { minutesAgo: 2, average: 80 }, { minutesAgo: 0 }]);
  setSeries(VMSS_B, [{ minutesAgo: 2, average: 60 }]);
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await endpoint.stop();
});

describe("Azure Monitor source (real SDK, local metrics endpoint)", () => {
  it("averages the newest data point of each resource and turns percent into 0–1", async () => {
    const reading = await gpu(source());
    expect(reading.ok && reading.value).toBeCloseTo(0.7, 9);
    // observedAt is the end of the newest complete minute (the oldest of the two resources').
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    expect(reading.ok && reading.observedAtMs).toBe(minute - 60_000);
    const request = endpoint.requests.at(-1);
    const url = new URL(request?.url ?? "/", endpoint.url);
    expect(url.pathname).toBe("/subscriptions/00000000-1111-2222-3333-444444444444/metrics:getBatch");
    expect(url.searchParams.get("metricnames")).toBe("node_gpu_usage_percentage");
    expect(url.searchParams.get("metricnamespace")).toBe("Microsoft.Compute/virtualMachineScaleSets");
    expect(url.searchParams.get("interval")).toBe("PT1M");
    expect(url.searchParams.get("aggregation")).toBe("average");
    expect(JSON.parse(request?.body ?? "{}")).toEqual({ resourceids: [VMSS_A, VMSS_B] });
    expect(scopes).toContain("https://management.azure.com/.default");
  });

  it("reads the metric and namespace the ScaledObject names", async () => {
    await gpu(source(), {
      azureMonitorMetric: "Percentage GPU",
      azureMonitorNamespace: "Microsoft.Compute/virtualMachines",
    });
    const url = new URL(endpoint.requests.at(-1)?.url ?? "/", endpoint.url);
    expect(url.searchParams.get("metricnames")).toBe("Percentage GPU");
    expect(url.searchParams.get("metricnamespace")).toBe("Microsoft.Compute/virtualMachines");
  });

  it("no data point in the window → empty; only old points → stale", async () => {
    endpoint.series.clear();
    expect(failure(await gpu(source())).kind).toBe("empty");
    setSeries(VMSS_A, [{ minutesAgo: 8, average: 90 }]);
    expect(failure(await gpu(source({ AZURE_MONITOR_STALE_AFTER_SECONDS: "300" }))).kind).toBe("stale");
  });

  it.each([
    [401, "auth"],
    [403, "auth"],
    [404, "not_found"],
    [429, "throttled"],
    [503, "throttled"],
    [500, "unreachable"],
  ])("HTTP %i → %s", async (status, kind) => {
    endpoint.fault = { status, retryAfter: "9" };
    expect(failure(await gpu(source())).kind).toBe(kind);
  });

  it("a slow answer → timeout", async () => {
    endpoint.fault = { delayMs: 3000 };
    expect(failure(await gpu(source({ SOURCE_TIMEOUT_MS: "200" }))).kind).toBe("timeout");
  });

  it("a malformed body → bad_response", async () => {
    endpoint.fault = { body: '{"values": [{"value": [{"id": "x"}]}]}' };
    expect(failure(await gpu(source())).kind).toBe("bad_response");
    endpoint.fault = { body: "<html>gateway</html>" };
    expect(failure(await gpu(source())).kind).toBe("bad_response");
  });

  it("connection refused → unreachable; an untrusted certificate → unreachable (TLS)", async () => {
    const port = await closedPort();
    expect(
      failure(await gpu(source({ AZURE_MONITOR_METRICS_ENDPOINT: `https://127.0.0.1:${port}` }))).kind,
    ).toBe("unreachable");
    expect(failure(await gpu(source({ AZURE_MONITOR_CA_FILE: "" })))).toMatchObject({
      kind: "unreachable",
      message: expect.stringContaining("TLS"),
    });
  });

  it("a credential that cannot get a token → auth, without its error text", async () => {
    const broken: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error("AADSTS70021: no federated identity match secret"), {
          name: "CredentialUnavailableError",
        });
      },
    };
    const reading = await gpu(source({}, broken));
    expect(failure(reading).kind).toBe("auth");
    expect(JSON.stringify(reading)).not.toContain("AADSTS");
  });

  it("names what is missing when gpuSource=azureMonitor cannot be served", async () => {
    expect(failure(await gpu(source({ AZURE_MONITOR_METRICS_ENDPOINT: "" })))).toMatchObject({
      kind: "not_configured",
      message: expect.stringContaining("AZURE_MONITOR_METRICS_ENDPOINT"),
    });
    const spec = parseScalerSpec({ name: "llama", namespace: "team-a" }, { gpuSource: "azureMonitor" }, {});
    const readings = await source().read(spec, { nowMs: Date.now() });
    expect(readings.gpuUtilisation).toMatchObject({
      ok: false,
      failure: { kind: "not_configured", message: expect.stringContaining("azureMonitorResourceIds") },
    });
  });
});
