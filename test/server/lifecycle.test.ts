import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { afterEach, describe, expect, it } from "vitest";
import { collectProblems } from "../../src/config/resolve.ts";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { isLoopback } from "../../src/server/http.ts";
import {
  eventually,
  type Harness,
  KedaLikeClient,
  ONE_PER_MESSAGE,
  ref,
  startHarness,
} from "../support/scaler-harness.ts";

type Unary = (request: unknown, callback: (error: grpc.ServiceError | null, response: never) => void) => void;
type AnyClient = grpc.Client &
  Record<string, Unary & ((request?: unknown) => grpc.ClientDuplexStream<unknown, unknown>)>;

function clientFor(
  protoFile: string,
  servicePath: string[],
  address: string,
  includeDirs: string[] = [],
): AnyClient {
  const definition = protoLoader.loadSync(protoFile, { keepCase: true, enums: String, includeDirs });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of servicePath) node = (node as Record<string, unknown>)[part];
  const Client = node as grpc.ServiceClientConstructor;
  return new Client(address, grpc.credentials.createInsecure()) as unknown as AnyClient;
}

function healthClient(address: string): AnyClient {
  return clientFor(healthProtoPath, ["grpc", "health", "v1", "Health"], address);
}

function healthStatus(client: AnyClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.Check!({ service }, (error, response: { status: string }) =>
      error ? reject(error) : resolve(response.status),
    ),
  );
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

describe("gRPC health service (Kubernetes grpc probes)", () => {
  it("answers SERVING for the server and for externalscaler.ExternalScaler, and NOT_FOUND for others", async () => {
    harness = await startHarness();
    const health = healthClient(harness.address);
    expect(await healthStatus(health, "")).toBe("SERVING");
    expect(await healthStatus(health, "externalscaler.ExternalScaler")).toBe("SERVING");
    await expect(healthStatus(health, "nope.Nope")).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    health.close();
  });
});

describe("server reflection", () => {
  it("lists the ExternalScaler and health services, as grpcurl would see them", async () => {
    harness = await startHarness();
    const reflectionProto = join(
      dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
      "..",
      "proto",
      "grpc/reflection/v1/reflection.proto",
    );
    const client = clientFor(
      reflectionProto,
      ["grpc", "reflection", "v1", "ServerReflection"],
      harness.address,
    );
    const call = client.ServerReflectionInfo!();
    const response = await new Promise<{ list_services_response: { service: { name: string }[] } }>(
      (resolve, reject) => {
        call.on("data", resolve);
        call.on("error", reject);
        call.write({ list_services: "*" });
      },
    );
    call.end();
    const names = response.list_services_response.service.map((s) => s.name);
    expect(names).toContain("externalscaler.ExternalScaler");
    expect(names).toContain("grpc.health.v1.Health");
    client.close();
  });
});

describe("HTTP endpoints", () => {
  it("serves /metrics with the decision gauges, /healthz, /readyz and /debug/decisions", async () => {
    harness = await startHarness();
    harness.source.setBacklog(4);
    const client = new KedaLikeClient(harness.address);
    await client.call("GetMetrics", {
      scaledObjectRef: ref("chat", ONE_PER_MESSAGE),
      metricName: "llm-desired-replicas",
    });
    client.close();
    const base = `http://127.0.0.1:${harness.scaler.httpPort}`;

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/keda_llm_scaler_desired_replicas\{[^}]*scaled_object="chat"[^}]*\} 4/);
    expect(metrics).toMatch(
      /keda_llm_scaler_rpc_requests_total\{[^}]*method="GetMetrics"[^}]*code="OK"[^}]*\} 1/,
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const debug = (await (await fetch(`${base}/debug/decisions`)).json()) as {
      decisions: { scaledObject: { name: string }; desiredReplicas: number; summary: string }[];
    };
    expect(debug.decisions).toHaveLength(1);
    expect(debug.decisions[0]).toMatchObject({ scaledObject: { name: "chat" }, desiredReplicas: 4 });
    expect(debug.decisions[0]!.summary).not.toBe("");
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it("answers a /debug/decisions limit that is not a positive whole number with 400 and a short reason", async () => {
    harness = await startHarness();
    const base = `http://127.0.0.1:${harness.scaler.httpPort}/debug/decisions`;
    for (const limit of ["abc", "0", "-5", "1.5", "", "1e3", "9".repeat(400)]) {
      const response = await fetch(`${base}?limit=${encodeURIComponent(limit)}`);
      expect(response.status, `limit=${limit.slice(0, 20)}`).toBe(400);
      const text = await response.text();
      expect(text).toContain("limit must be a positive whole number");
      expect(text.length).toBeLessThan(120);
    }
    const pages = await Promise.all(
      ["1", "5000"].map(async (limit) => (await fetch(`${base}?limit=${limit}`)).status),
    );
    expect(pages).toEqual([200, 200]);
  });

  it("serves /debug/decisions by default to loopback connections only", async () => {
    harness = await startHarness({ DEBUG_DECISIONS: "" });
    expect(harness.scaler.httpPort).toBeGreaterThan(0);
    // The harness listens on 127.0.0.1, so this request is a loopback one.
    const response = await fetch(`http://127.0.0.1:${harness.scaler.httpPort}/debug/decisions`);
    expect(response.status).toBe(200);
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("::ffff:127.0.0.2")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    for (const remote of ["10.244.1.7", "::ffff:10.0.0.1", "fd00::2", "1270.0.0.1", undefined])
      expect(isLoopback(remote)).toBe(false);
  });

  it("refuses DEBUG_DECISIONS=true beside mutual TLS (plaintext tenant data next to an mTLS port)", () => {
    const problems = collectProblems(() =>
      loadServiceConfig({
        TLS_CERT_FILE: "/tls/tls.crt",
        TLS_KEY_FILE: "/tls/tls.key",
        TLS_CLIENT_CA_FILE: "/tls/ca.crt",
        DEBUG_DECISIONS: "true",
      }),
    ).problems;
    expect(problems.map((p) => p.message).join("\n")).toMatch(
      /DEBUG_DECISIONS=true .*DEBUG_DECISIONS=loopback/,
    );
    expect(
      collectProblems(() =>
        loadServiceConfig({
          TLS_CERT_FILE: "/tls/tls.crt",
          TLS_KEY_FILE: "/tls/tls.key",
          TLS_CLIENT_CA_FILE: "/tls/ca.crt",
        }),
      ).problems,
    ).toEqual([]);
  });

  it("hides /debug/decisions when DEBUG_DECISIONS=false", async () => {
    harness = await startHarness({ DEBUG_DECISIONS: "false" });
    expect((await fetch(`http://127.0.0.1:${harness.scaler.httpPort}/debug/decisions`)).status).toBe(404);
  });
});

describe("graceful shutdown", () => {
  it("reports not ready, ends open streams with OK, lets an in-flight call finish, then refuses calls", async () => {
    harness = await startHarness({ SHUTDOWN_GRACE_SECONDS: "5" });
    harness.source.setBacklog(2);
    const client = new KedaLikeClient(harness.address);
    const stream = client.stream<{ result: boolean }>("StreamIsActive", ref("streaming", ONE_PER_MESSAGE));
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on("status", resolve));
    stream.on("data", () => {});
    stream.on("error", () => {});
    await eventually(() => expect(harness!.scaler.openStreamCount).toBe(1));

    harness.source.delayMs = 300;
    const inFlight = client.call<{ metricValues: { metricValueFloat: number }[] }>("GetMetrics", {
      scaledObjectRef: ref("slow", ONE_PER_MESSAGE),
      metricName: "llm-desired-replicas",
    });
    await eventually(() => expect(harness!.source.reads).toBeGreaterThan(1));
    const readyz = `http://127.0.0.1:${harness.scaler.httpPort}/readyz`;
    const stopping = harness.scaler.shutdown();
    expect((await fetch(readyz)).status).toBe(503);

    expect((await ended).code).toBe(grpc.status.OK);
    expect((await inFlight).metricValues[0]!.metricValueFloat).toBe(2);
    await stopping;
    await expect(fetch(readyz)).rejects.toThrow();
    await expect(client.call("GetMetricSpec", ref("late"), 1000)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    client.close();
    harness = undefined;
  });
});
