import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import type { Reading } from "../../src/readings/reading.ts";
import { createSignalSource, type ScalerSignalSource } from "../../src/sources/collect.ts";
import { closedPort } from "../support/fake-http.ts";
import { ServiceBusEndpoint } from "../support/servicebus-endpoint.ts";

/**
 * The Service Bus source: the real @azure/service-bus administration client against a local
 * HTTPS endpoint speaking the ATOM management protocol, trusted through SERVICEBUS_CA_FILE.
 */

const endpoint = new ServiceBusEndpoint();
const sources: ScalerSignalSource[] = [];

function source(env: Record<string, string> = {}, credential?: TokenCredential): ScalerSignalSource {
  const created = createSignalSource(
    loadServiceConfig({
      SERVICEBUS_CONNECTION_STRING: endpoint.connectionString(),
      SERVICEBUS_CA_FILE: endpoint.ca.certFile,
      SOURCE_CACHE_TTL_MS: "0",
      ...env,
    }),
    credential ? { credential: () => credential } : {},
  );
  sources.push(created);
  return created;
}

async function backlog(from: ScalerSignalSource, metadata: Record<string, string>): Promise<Reading> {
  const spec = parseScalerSpec({ name: "llama", namespace: "team-a" }, metadata, {});
  const readings = await from.read(spec, { nowMs: Date.now() });
  if (!readings.queueBacklog) throw new Error("no queueBacklog reading");
  return readings.queueBacklog;
}

const QUEUE = { serviceBusQueue: "inference-requests" };

function failure(reading: Reading): { kind: string; message: string } {
  if (reading.ok) throw new Error(`expected a failure, got ${reading.value}`);
  return reading.failure;
}

beforeAll(async () => {
  await endpoint.start();
});

beforeEach(() => {
  endpoint.faults.clear();
  endpoint.bearerToken = undefined;
  endpoint.queues.set("inference-requests", { active: 42, deadLetter: 5, scheduled: 3 });
  endpoint.subscriptions.set("prompts/gpu-workers", { active: 17, deadLetter: 1 });
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await endpoint.stop();
});

describe("Service Bus source (real SDK, local management endpoint)", () => {
  it("reads a queue's active messages, not dead-lettered or scheduled ones", async () => {
    const reading = await backlog(source(), QUEUE);
    expect(reading).toMatchObject({ ok: true, value: 42 });
    expect(reading.ok && Date.now() - reading.observedAtMs).toBeLessThan(5000);
    expect(endpoint.requests.at(-1)?.url).toBe("/inference-requests?api-version=2021-05");
  });

  it("reads a topic subscription's active messages", async () => {
    const reading = await backlog(source(), {
      serviceBusTopic: "prompts",
      serviceBusSubscription: "gpu-workers",
    });
    expect(reading).toMatchObject({ ok: true, value: 17 });
  });

  it("an unknown queue → not_found", async () => {
    expect(failure(await backlog(source(), { serviceBusQueue: "no-such-queue" })).kind).toBe("not_found");
  });

  it("a wrong key → auth, and neither key nor connection string appears in the failure", async () => {
    const wrongKey = "d3Jvbmcta2V5LXZhbHVl";
    const reading = await backlog(
      source({ SERVICEBUS_CONNECTION_STRING: endpoint.connectionString(wrongKey) }),
      QUEUE,
    );
    expect(failure(reading).kind).toBe("auth");
    expect(JSON.stringify(reading)).not.toContain(wrongKey);
    expect(JSON.stringify(reading)).not.toContain("SharedAccessKey");
  });

  it.each([
    [429, "throttled"],
    [503, "throttled"],
    [500, "unreachable"],
    [403, "auth"],
  ])("HTTP %i → %s (no retries inside the deadline)", async (status, kind) => {
    endpoint.faults.set("inference-requests", { status, retryAfter: "4" });
    const before = endpoint.requests.length;
    const reading = await backlog(source(), QUEUE);
    expect(failure(reading).kind).toBe(kind);
    expect(endpoint.requests.length - before).toBe(1);
    if (status === 429) expect(failure(reading).message).toContain("retry after 4");
  });

  it("a slow answer → timeout at SOURCE_TIMEOUT_MS", async () => {
    endpoint.faults.set("inference-requests", { delayMs: 3000 });
    const reading = await backlog(source({ SOURCE_TIMEOUT_MS: "200" }), QUEUE);
    expect(failure(reading)).toMatchObject({ kind: "timeout", message: expect.stringContaining("200 ms") });
  });

  it("connection refused → unreachable", async () => {
    const port = await closedPort();
    const refused = `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=k;SharedAccessKey=${endpoint.sasKey}`;
    const reading = await backlog(source({ SERVICEBUS_CONNECTION_STRING: refused }), QUEUE);
    expect(failure(reading).kind).toBe("unreachable");
    expect(JSON.stringify(reading)).not.toContain(endpoint.sasKey);
  });

  it.each([
    ["not XML", "this is not xml <<<"],
    [
      "an entry without message counts",
      '<entry xmlns="http://www.w3.org/2005/Atom"><content type="application/xml"><QueueDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect"></QueueDescription></content></entry>',
    ],
  ])("a malformed answer (%s) → bad_response", async (_name, body) => {
    endpoint.faults.set("inference-requests", { body });
    expect(failure(await backlog(source(), QUEUE)).kind).toBe("bad_response");
  });

  it("an entry whose counts lack the active one → bad_response (the SDK alone would read 0)", async () => {
    endpoint.queues.set("inference-requests", { deadLetter: 9 });
    expect(failure(await backlog(source(), QUEUE)).kind).toBe("bad_response");
  });

  it("does not trust the endpoint's certificate without SERVICEBUS_CA_FILE", async () => {
    const reading = await backlog(source({ SERVICEBUS_CA_FILE: "" }), QUEUE);
    expect(failure(reading)).toMatchObject({ kind: "unreachable", message: expect.stringContaining("TLS") });
  });

  it("authenticates with Entra ID (workload identity) when only SERVICEBUS_NAMESPACE is set", async () => {
    endpoint.bearerToken = "entra-token-for-servicebus";
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: "entra-token-for-servicebus", expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const reading = await backlog(
      source({ SERVICEBUS_CONNECTION_STRING: "", SERVICEBUS_NAMESPACE: endpoint.host }, credential),
      QUEUE,
    );
    expect(reading).toMatchObject({ ok: true, value: 42 });
    expect(scopes[0]).toBe("https://servicebus.azure.net//.default");
  });

  it("names the settings to add when a queue is named but Service Bus is not configured", async () => {
    const reading = await backlog(source({ SERVICEBUS_CONNECTION_STRING: "" }), QUEUE);
    expect(failure(reading)).toMatchObject({
      kind: "not_configured",
      message: expect.stringContaining("SERVICEBUS_CONNECTION_STRING"),
    });
    const unnamed = createSignalSource(
      loadServiceConfig({ SERVICEBUS_CONNECTION_STRING: endpoint.connectionString() }),
    );
    sources.push(unnamed);
    const readings = await unnamed.read(parseScalerSpec({ name: "x", namespace: "team-a" }, {}, {}), {
      nowMs: Date.now(),
    });
    // No queue named and no Prometheus: nothing can be read, and that is a failure, not a 0.
    expect(Object.keys(readings)).toEqual(["queueBacklog"]);
    expect(readings.queueBacklog).toMatchObject({ ok: false, failure: { kind: "not_configured" } });
  });

  it("reports an invalid connection string without echoing it", async () => {
    const bad = "Endpoint=nonsense;SharedAccessKey=super-secret-value";
    const reading = await backlog(source({ SERVICEBUS_CONNECTION_STRING: bad }), QUEUE);
    expect(failure(reading).kind).toBe("not_configured");
    expect(JSON.stringify(reading)).not.toContain("super-secret-value");
  });

  it("one request per cache period for every ScaledObject reading the same queue", async () => {
    const shared = source({ SOURCE_CACHE_TTL_MS: "60000" });
    const before = endpoint.requests.length;
    const readings = await Promise.all(Array.from({ length: 10 }, () => backlog(shared, QUEUE)));
    expect(readings.every((r) => r.ok && r.value === 42)).toBe(true);
    expect(endpoint.requests.length - before).toBe(1);
    expect(shared.stats().bySource.serviceBus).toEqual({ requests: 1, errors: 0, cacheHits: 9 });
  });

  it("gives the very same readings between two refreshes, and new ones from a new answer", async () => {
    const spec = parseScalerSpec({ name: "llama", namespace: "team-a" }, QUEUE, {});
    const cached = source({ SOURCE_CACHE_TTL_MS: "60000" });
    const first = await cached.read(spec, { nowMs: Date.now() });
    expect(await cached.read(spec, { nowMs: Date.now() })).toBe(first);
    const uncached = source();
    const before = await uncached.read(spec, { nowMs: Date.now() });
    endpoint.queues.set("inference-requests", { active: 7, deadLetter: 0, scheduled: 0 });
    const after = await uncached.read(spec, { nowMs: Date.now() });
    expect([before.queueBacklog, after.queueBacklog]).toMatchObject([
      { ok: true, value: 42 },
      { ok: true, value: 7 },
    ]);
  });
});
