import type { ServerResponse } from "node:http";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { parseScalerSpec } from "../../src/config/spec.ts";
import type { Reading } from "../../src/readings/reading.ts";
import { DecisionBook } from "../../src/server/decision-book.ts";
import { createSignalSource, type ScalerSignalSource } from "../../src/sources/collect.ts";
import type { QueryThreadStop } from "../../src/sources/prometheus/query-thread.ts";
import { makeCa, makeLeaf, tempDir } from "../support/certs.ts";
import { closedPort, FakeHttpServer, type RecordedRequest } from "../support/fake-http.ts";

/**
 * Every failure type of the Prometheus source, against a scripted HTTP server: what Prometheus
 * (or a proxy in front of it) can answer, and what the network can do.
 */

const NO_EXTRAS = {
  ttftEnabled: "false",
  kvCacheEnabled: "false",
  gpuEnabled: "false",
  tokensEnabled: "false",
};
const SPEC = parseScalerSpec({ name: "llama", namespace: "team-a" }, NO_EXTRAS, {});
// vllmWaiting and vllmRunning in one request, the three replica series in another.
const QUERIES_PER_READ = 2;

/** The signals a batched request asks for (its `scaler_signal` markers); none for a lone query. */
function signalsAsked(request: RecordedRequest): (string | undefined)[] {
  const query = new URLSearchParams(request.body).get("query") ?? "";
  const marked = [...query.matchAll(/"scaler_signal", "(\w+)"/g)].map((match) => match[1]);
  return marked.length > 0 ? marked : [undefined];
}

/** Prometheus' answer to a built query: every asked signal's value and freshness series. */
function answerVector(
  request: RecordedRequest,
  res: ServerResponse,
  value: string,
  freshnessSeconds = Date.now() / 1000,
): void {
  const now = Date.now() / 1000;
  const result = signalsAsked(request).flatMap((signal) => {
    const marker = signal ? { scaler_signal: signal } : {};
    return [
      { metric: { ...marker, scaler_part: "value" }, value: [now, value] },
      { metric: { ...marker, scaler_part: "freshness" }, value: [now, String(freshnessSeconds)] },
    ];
  });
  res
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
}

const server = new FakeHttpServer();
const sources: ScalerSignalSource[] = [];

function source(env: Record<string, string> = {}, credential?: TokenCredential): ScalerSignalSource {
  const created = createSignalSource(
    loadServiceConfig({ PROMETHEUS_URL: server.url, SOURCE_CACHE_TTL_MS: "0", ...env }),
    credential ? { credential: () => credential } : {},
  );
  sources.push(created);
  return created;
}

async function waiting(from: ScalerSignalSource, signal?: AbortSignal): Promise<Reading> {
  const readings = await from.read(SPEC, { nowMs: Date.now(), ...(signal ? { signal } : {}) });
  if (!readings.vllmWaiting) throw new Error("no vllmWaiting reading");
  return readings.vllmWaiting;
}

function failure(reading: Reading): { kind: string; message: string } {
  if (reading.ok) throw new Error(`expected a failure, got ${reading.value}`);
  return reading.failure;
}

beforeAll(async () => {
  await server.listen();
});

beforeEach(() => {
  server.requests.length = 0;
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await server.close();
});

describe("Prometheus source faults", () => {
  it("reads a value and sends the query as a form POST with Prometheus' own timeout", async () => {
    server.handler = (req, res) => answerVector(req, res, "12");
    const reading = await waiting(source({ SOURCE_TIMEOUT_MS: "700" }));
    expect(reading).toMatchObject({ ok: true, value: 12 });
    const sent = new URLSearchParams(server.requests[0]?.body);
    expect(server.requests[0]?.url).toBe("/api/v1/query");
    expect(sent.get("timeout")).toBe("700ms");
    expect(sent.get("query")).toContain('namespace="team-a"');
  });

  it("keeps a path prefix of PROMETHEUS_URL", async () => {
    server.handler = (req, res) => answerVector(req, res, "1");
    await waiting(source({ PROMETHEUS_URL: `${server.url}/prometheus/` }));
    expect(server.requests[0]?.url).toBe("/prometheus/api/v1/query");
  });

  it("connection refused → unreachable", async () => {
    const port = await closedPort();
    const reading = await waiting(source({ PROMETHEUS_URL: `http://127.0.0.1:${port}` }));
    expect(failure(reading)).toMatchObject({ kind: "unreachable" });
    expect(failure(reading).message).toContain("ECONNREFUSED");
  });

  it("no answer within SOURCE_TIMEOUT_MS → timeout", async () => {
    server.handler = () => {}; // never answers
    const reading = await waiting(source({ SOURCE_TIMEOUT_MS: "150" }));
    expect(failure(reading)).toMatchObject({ kind: "timeout", message: expect.stringContaining("150 ms") });
  });

  it("does not count time the event loop was busy elsewhere against the deadline", async () => {
    server.handler = (req, res) => answerVector(req, res, "5");
    // A deadline long enough that a machine busy with other work (CI runs test files side by
    // side on two cores) still answers within it once the loop is free; the loop is then kept
    // busy for half as long again.
    const busySource = source({ SOURCE_TIMEOUT_MS: "1000" });
    // The query thread starts with the source, as the service starts; on a loaded test machine
    // loading it can take longer than this deadline, and that is not what this test is about.
    await busySource.read(parseScalerSpec({ name: "llama", namespace: "team-b" }, NO_EXTRAS, {}), {
      nowMs: Date.now(),
    });
    const read = waiting(busySource);
    // A start-up burst: the loop works on other calls for longer than the deadline before it
    // can even send the request. A plain timer would give up the moment the loop is free again.
    const busyUntil = performance.now() + 1500;
    while (performance.now() < busyUntil) {}
    expect(await read).toMatchObject({ ok: true, value: 5 });
  });

  it("counts a stop of the query thread on /metrics and tells whoever listens (serve logs it)", async () => {
    const stops: QueryThreadStop[] = [];
    const from = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: server.url, SOURCE_CACHE_TTL_MS: "0" }),
      {
        // A thread that stops on this namespace's queries.
        queryWorkerFile: new URL("./fixtures/stopping-query-worker.ts", import.meta.url),
        onQueryThreadStop: (stop) => stops.push(stop),
      },
    );
    sources.push(from);
    const readings = await from.read(
      parseScalerSpec({ name: "llama", namespace: "stop-team" }, NO_EXTRAS, {}),
      { nowMs: Date.now() },
    );
    expect(failure(readings.vllmWaiting as Reading)).toMatchObject({
      kind: "unreachable",
      message: expect.stringContaining("the query thread stopped (exit code 7)"),
    });
    expect(stops[0]).toEqual({ reason: "stopped (exit code 7)", restartInMs: 0 });
    expect(await from.metricsText()).toContain(
      `keda_llm_scaler_prometheus_query_thread_stops_total ${stops.length}`,
    );
  });

  it("still gives up on a hung upstream, at four times the deadline at most whatever the loop does", async () => {
    server.handler = () => {}; // never answers
    const read = waiting(source({ SOURCE_TIMEOUT_MS: "150" }));
    const busyUntil = performance.now() + 700;
    while (performance.now() < busyUntil) {}
    expect(failure(await read)).toMatchObject({
      kind: "timeout",
      message: expect.stringContaining("150 ms"),
    });
  });

  it("shares a plan between ScaledObjects with the same settings only where their name plays no part", async () => {
    server.handler = (req, res) => answerVector(req, res, "1");
    const from = source();
    // Specs as the decision book makes them for ScaledObjects differing only by name: the very
    // same settings objects. Without a deployment, the name stands in for it in the queries.
    const named = (spec: typeof SPEC, name: string) => ({
      ...spec,
      scaledObject: { name, namespace: "team-a" },
    });
    const queries = async (spec: typeof SPEC) => {
      server.requests.length = 0;
      await from.read(spec, { nowMs: Date.now() });
      return server.requests.map((r) => new URLSearchParams(r.body).get("query") ?? "").join("\n");
    };
    expect(await queries(named(SPEC, "llama-a"))).toContain('deployment="llama-a"');
    expect(await queries(named(SPEC, "llama-b"))).toContain('deployment="llama-b"');
    const withDeployment = parseScalerSpec(
      { name: "llama-a", namespace: "team-a" },
      {
        deployment: "vllm",
        ttftEnabled: "false",
        kvCacheEnabled: "false",
        gpuEnabled: "false",
        tokensEnabled: "false",
      },
      {},
    );
    const a = await queries(withDeployment);
    expect(a).toContain('deployment="vllm"');
    expect(await queries(named(withDeployment, "llama-b"))).toBe(a);
    // A spec whose settings differ (here the namespace) gets its own plan.
    expect(
      await queries({ ...withDeployment, scaledObject: { name: "llama-a", namespace: "team-b" } }),
    ).toContain('namespace="team-b"');
  });

  it("answers a decision from memory at once, with no promise, once every query has an answer", async () => {
    server.handler = (req, res) => answerVector(req, res, "3");
    const from = source({ SOURCE_CACHE_TTL_MS: "60000" });
    let nowMs = Date.now();
    const book = new DecisionBook({ source: from, env: {}, clock: () => nowMs, decisionTtlMs: 1000 });
    const entry = book.lookup({ name: "llama", namespace: "team-a", scalerMetadata: NO_EXTRAS });
    const first = book.decisionOf(entry);
    expect(first).toBeInstanceOf(Promise);
    const { desiredReplicas } = await first;
    expect((await first).available).toBe(true);
    const sent = server.requests.length;
    const hits = from.stats().cacheHits;
    nowMs += 2000; // past the decision's TTL: decided again, from the cached answers
    const second = book.decisionOf(entry);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toMatchObject({ available: true, desiredReplicas });
    expect(server.requests.length).toBe(sent);
    expect(from.stats().cacheHits - hits).toBe(QUERIES_PER_READ);
  });

  it("takes a ScaledObject's queryTimeoutMs over SOURCE_TIMEOUT_MS", async () => {
    server.handler = () => {};
    const spec = parseScalerSpec(
      { name: "llama", namespace: "team-a" },
      { queryTimeoutMs: "120", ttftEnabled: "false", kvCacheEnabled: "false", gpuEnabled: "false" },
      {},
    );
    const readings = await source({ SOURCE_TIMEOUT_MS: "20000" }).read(spec, { nowMs: Date.now() });
    expect(readings.vllmWaiting).toMatchObject({
      ok: false,
      failure: { kind: "timeout", message: expect.stringContaining("120 ms") },
    });
  });

  it("describes its sources for the startup log without any secret", () => {
    const lines = source({
      PROMETHEUS_URL: "https://scaler:hunter2@prometheus.example:9090/",
      PROMETHEUS_AUTH: "bearer",
      PROMETHEUS_BEARER_TOKEN: "tok-abc-123",
      SERVICEBUS_CONNECTION_STRING:
        "Endpoint=sb://ns.example/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0",
    }).describe();
    const text = lines.join("\n");
    expect(text).toContain("prometheus: https://redacted@prometheus.example:9090/ (auth bearer)");
    expect(text).toContain("serviceBus: connection string");
    expect(text).toContain("azureMonitor: off");
    for (const secret of ["hunter2", "tok-abc-123", "c2VjcmV0"]) expect(text).not.toContain(secret);
  });

  it("answers at once when KEDA cancels the call, whatever the upstream deadline", async () => {
    server.handler = () => {};
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const reading = await waiting(source({ SOURCE_TIMEOUT_MS: "20000" }), controller.signal);
    expect(failure(reading)).toMatchObject({
      kind: "timeout",
      message: expect.stringContaining("cancelled"),
    });
  });

  it.each([
    [401, "auth"],
    [403, "auth"],
    [404, "not_found"],
    [429, "throttled"],
    [503, "throttled"],
    [502, "unreachable"],
  ])("HTTP %i → %s", async (status, kind) => {
    server.handler = (_req, res) => res.writeHead(status, { "retry-after": "7" }).end("nope");
    const reading = await waiting(source());
    expect(failure(reading).kind).toBe(kind);
    if (kind === "throttled") expect(failure(reading).message).toContain("retry after 7");
  });

  it("a rejected query → bad_response with Prometheus' reason", async () => {
    server.handler = (_req, res) =>
      res
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error at char 5" }));
    expect(failure(await waiting(source()))).toMatchObject({
      kind: "bad_response",
      message: expect.stringContaining("parse error at char 5"),
    });
  });

  it.each([
    ["a body that is not JSON", "<html>proxy error</html>"],
    ["JSON that is not an API answer", '{"hello": 1}'],
    ["a matrix instead of a vector", '{"status":"success","data":{"resultType":"matrix","result":[]}}'],
    [
      "a malformed sample",
      '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":"x"}]}}',
    ],
  ])("%s → bad_response", async (_name, body) => {
    server.handler = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(body);
    expect(failure(await waiting(source())).kind).toBe("bad_response");
  });

  it("an empty vector → empty, NaN and ±Inf → not_a_number, an old sample → stale", async () => {
    server.handler = (_req, res) =>
      res.writeHead(200).end('{"status":"success","data":{"resultType":"vector","result":[]}}');
    expect(failure(await waiting(source())).kind).toBe("empty");
    for (const value of ["NaN", "+Inf", "-Inf"]) {
      server.handler = (req, res) => answerVector(req, res, value);
      expect(failure(await waiting(source())).kind).toBe("not_a_number");
    }
    server.handler = (req, res) => answerVector(req, res, "3", Date.now() / 1000 - 600);
    expect(failure(await waiting(source({ SOURCE_STALE_AFTER_SECONDS: "120" }))).kind).toBe("stale");
  });

  it("a 100 MB body → bad_response once 2 MiB have arrived, without reading the rest", async () => {
    let written = 0;
    server.handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = () => {
        while (written < 100 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
    };
    const reading = failure(await waiting(source({ SOURCE_TIMEOUT_MS: "20000" })));
    expect(reading.kind).toBe("bad_response");
    expect(reading.message).toMatch(/larger than 2097152 bytes/);
    expect(written).toBeLessThan(100 * 1024 * 1024);
  });

  it("a 5,000-series vector → bad_response, without copying it to the event loop; a negative sample is a reading the policy screens", async () => {
    const now = Date.now() / 1000;
    server.handler = (_req, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: "success",
          data: {
            resultType: "vector",
            result: Array.from({ length: 5000 }, (_, i) => ({
              metric: { scaler_signal: "vllmWaiting", scaler_part: "value", pod: `p${i}` },
              value: [now, "1"],
            })),
          },
        }),
      );
    const many = failure(await waiting(source()));
    expect(many.kind).toBe("bad_response");
    expect(many.message).toContain("the answer has 5000 series, more than the 1000 read");
    server.handler = (req, res) => answerVector(req, res, "-3");
    // The source reports what Prometheus said; the policy's screening refuses negatives (docs/policy.md).
    expect(await waiting(source())).toMatchObject({ ok: true, value: -3 });
  });

  it("sends a bearer token or basic credentials, and never puts them in a failure", async () => {
    server.handler = (_req, res) => res.writeHead(401).end("bad token sekret-token-123");
    const bearer = await waiting(
      source({ PROMETHEUS_AUTH: "bearer", PROMETHEUS_BEARER_TOKEN: "sekret-token-123" }),
    );
    expect(server.requests[0]?.headers.authorization).toBe("Bearer sekret-token-123");
    expect(JSON.stringify(bearer)).not.toContain("sekret");
    server.requests.length = 0;
    const basic = await waiting(
      source({ PROMETHEUS_AUTH: "basic", PROMETHEUS_USERNAME: "scaler", PROMETHEUS_PASSWORD: "pa55word" }),
    );
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from("scaler:pa55word").toString("base64")}`,
    );
    expect(JSON.stringify(basic)).not.toContain("pa55");
  });

  it("names the missing setting when auth is incomplete", async () => {
    const reading = await waiting(source({ PROMETHEUS_AUTH: "bearer" }));
    expect(failure(reading)).toMatchObject({
      kind: "not_configured",
      message: expect.stringContaining("PROMETHEUS_BEARER_TOKEN"),
    });
    expect(server.requests).toHaveLength(0);
  });

  it("gets an Entra ID token for managed Prometheus once and reuses it until it nears expiry", async () => {
    server.handler = (req, res) => answerVector(req, res, "2");
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: async (scope): Promise<AccessToken> => {
        scopes.push(String(scope));
        return { token: "entra-token", expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
    const managed = source({ PROMETHEUS_AUTH: "azure" }, credential);
    await waiting(managed);
    await waiting(managed);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(
      Array(2 * QUERIES_PER_READ).fill("Bearer entra-token"),
    );
    expect(scopes).toEqual(["https://prometheus.monitor.azure.com/.default"]);
    const failing: TokenCredential = {
      getToken: async () => {
        throw Object.assign(new Error("AADSTS700016 secret detail"), { name: "CredentialUnavailableError" });
      },
    };
    const broken = await waiting(source({ PROMETHEUS_AUTH: "azure" }, failing));
    expect(failure(broken)).toMatchObject({ kind: "auth" });
    expect(failure(broken).message).not.toContain("AADSTS");
  });

  it("shares one in-flight request between concurrent readers (TTL 0)", async () => {
    const pending: [RecordedRequest, ServerResponse][] = [];
    server.handler = (req, res) => {
      pending.push([req, res]);
      if (pending.length === QUERIES_PER_READ) for (const [q, r] of pending) answerVector(q, r, "4");
    };
    const shared = source();
    const readings = await Promise.all(Array.from({ length: 10 }, () => waiting(shared)));
    expect(readings.every((r) => r.ok && r.value === 4)).toBe(true);
    expect(server.requests).toHaveLength(QUERIES_PER_READ);
    expect(shared.stats()).toMatchObject({
      upstreamRequests: QUERIES_PER_READ,
      cacheHits: 9 * QUERIES_PER_READ,
    });
  });
});

describe("Prometheus over TLS with a private CA", () => {
  const dir = tempDir("prometheus-ca-");
  const ca = makeCa(dir, "test-ca");
  const leaf = makeLeaf(ca, "prometheus", { server: true });
  const tlsServer = new FakeHttpServer(leaf);

  beforeAll(async () => {
    await tlsServer.listen();
    tlsServer.handler = (req, res) => answerVector(req, res, "5");
  });

  afterAll(async () => {
    await tlsServer.close();
  });

  it("trusts PROMETHEUS_CA_FILE for this client only", async () => {
    const trusted = createSignalSource(
      loadServiceConfig({ PROMETHEUS_URL: tlsServer.url, PROMETHEUS_CA_FILE: ca.certFile }),
    );
    sources.push(trusted);
    expect(await waiting(trusted)).toMatchObject({ ok: true, value: 5 });
    // Without the CA the same endpoint is refused: the trust was not made process-wide.
    const untrusted = createSignalSource(loadServiceConfig({ PROMETHEUS_URL: tlsServer.url }));
    sources.push(untrusted);
    expect(failure(await waiting(untrusted))).toMatchObject({
      kind: "unreachable",
      message: expect.stringContaining("TLS"),
    });
  });

  it("refuses to start with an unreadable CA file, naming the setting", () => {
    expect(() =>
      createSignalSource(
        loadServiceConfig({ PROMETHEUS_URL: tlsServer.url, PROMETHEUS_CA_FILE: `${dir}/missing.pem` }),
      ),
    ).toThrow(/PROMETHEUS_CA_FILE.*ENOENT/);
  });
});

describe("Prometheus source readings between two refreshes", () => {
  // The second also names a queue this process cannot read (Service Bus is off): a fixed failure.
  const UNSERVED_QUEUE = parseScalerSpec(
    { name: "llama", namespace: "team-a" },
    { ...NO_EXTRAS, serviceBusQueue: "requests" },
    {},
  );
  it.each([
    ["Prometheus reads only", SPEC],
    ["a read that always fails beside them", UNSERVED_QUEUE],
  ])("are the very same object until an answer changes or a reading turns stale (%s)", async (_, spec) => {
    server.handler = (req, res) => answerVector(req, res, "3");
    const from = source({ SOURCE_CACHE_TTL_MS: "60000", SOURCE_STALE_AFTER_SECONDS: "30" });
    const t0 = Date.now();
    const first = await from.read(spec, { nowMs: t0 });
    expect(first.vllmWaiting).toMatchObject({ ok: true, value: 3 });
    // A decision between two refreshes allocates no readings: it gets the ones already built.
    expect(await from.read(spec, { nowMs: t0 + 1000 })).toBe(first);
    // The same answer past the staleness limit is a different reading: stale, not 3.
    const late = await from.read(spec, { nowMs: t0 + 31_000 });
    expect(late).not.toBe(first);
    expect(failure(late.vllmWaiting as Reading)).toMatchObject({ kind: "stale" });
  });

  it("count as cache hits on /metrics, each hit once however often it is scraped", async () => {
    server.handler = (req, res) => answerVector(req, res, "3");
    const from = source({ SOURCE_CACHE_TTL_MS: "60000" });
    const hitsOnMetrics = async () =>
      Number(
        /keda_llm_scaler_source_cache_hits_total\{source="prometheus"\} (\d+)/.exec(
          await from.metricsText(),
        )?.[1],
      );
    await from.read(SPEC, { nowMs: Date.now() });
    await from.read(SPEC, { nowMs: Date.now() });
    expect(from.stats().cacheHits).toBe(QUERIES_PER_READ);
    expect(await hitsOnMetrics()).toBe(QUERIES_PER_READ);
    expect(await hitsOnMetrics()).toBe(QUERIES_PER_READ);
    await from.read(SPEC, { nowMs: Date.now() });
    expect(await hitsOnMetrics()).toBe(2 * QUERIES_PER_READ);
  });

  it("are rebuilt from a new answer", async () => {
    let value = "3";
    server.handler = (req, res) => answerVector(req, res, value);
    const from = source({ SOURCE_CACHE_TTL_MS: "0" });
    const first = await from.read(SPEC, { nowMs: Date.now() });
    value = "5";
    const second = await from.read(SPEC, { nowMs: Date.now() });
    expect([first.vllmWaiting, second.vllmWaiting]).toMatchObject([
      { ok: true, value: 3 },
      { ok: true, value: 5 },
    ]);
  });
});
