import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, startCli } from "../support/cli.ts";
import { eventually, KedaLikeClient, ref } from "../support/scaler-harness.ts";

/** `npm start` on a machine with nothing configured: the README's first command. */
describe("serve with no external systems configured", () => {
  const serve = startCli(["serve"], { LISTEN_HOST: "127.0.0.1", GRPC_PORT: "0", HTTP_PORT: "0" });
  let address = "";
  let client: KedaLikeClient;

  beforeAll(async () => {
    await eventually(
      () => expect(serve.lines.some((l) => l.includes('"keda-llm-scaler serving"'))).toBe(true),
      30_000,
      50,
    );
    const started = JSON.parse(serve.lines.find((l) => l.includes('"keda-llm-scaler serving"'))!) as {
      grpcPort: number;
    };
    address = `127.0.0.1:${started.grpcPort}`;
    client = new KedaLikeClient(address);
  }, 40_000);
  afterAll(() => {
    client?.close();
    serve.child.kill("SIGKILL");
  });

  it("logs which sources are missing and how to configure them", () => {
    const logged = serve.lines.join("\n");
    expect(logged).toMatch(/prometheus: off.*PROMETHEUS_URL/);
    expect(logged).toMatch(/serviceBus: off.*SERVICEBUS_CONNECTION_STRING/);
  });

  it("answers GetMetricSpec from configuration alone", async () => {
    const spec = await client.call<{ metricSpecs: { metricName: string; targetSizeFloat: number }[] }>(
      "GetMetricSpec",
      ref("chat"),
    );
    expect(spec.metricSpecs).toEqual([
      expect.objectContaining({ metricName: "llm-desired-replicas", targetSizeFloat: 1 }),
    ]);
  });

  it("answers GetMetrics with UNAVAILABLE naming the missing source, never a made-up zero", async () => {
    const error = await client
      .call("GetMetrics", { scaledObjectRef: ref("chat"), metricName: "llm-desired-replicas" })
      .then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(error?.details).toMatch(/SERVICEBUS|PROMETHEUS_URL/);
  });

  it("exits 0 on SIGTERM after a graceful shutdown", async () => {
    serve.child.kill("SIGTERM");
    expect(await serve.exited).toBe(0);
    expect(serve.lines.join("\n")).toContain('"msg":"stopped"');
  });
});

describe("serve with a bad environment", () => {
  it("refuses to start and names every problem at once", () => {
    const result = runCli(["serve"], {
      MAX_REPLICAS: "lots",
      GRPC_PORT: "70000",
      TLS_KEY_FILE: "/tmp/x.key",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('env MAX_REPLICAS must be a whole number from 1 to 10000, got "lots"');
    expect(result.stderr).toContain("env GRPC_PORT");
    expect(result.stderr).toContain("TLS_CERT_FILE and TLS_KEY_FILE go together");
  });

  it("names an unreadable certificate file", () => {
    const result = runCli(["serve"], {
      LISTEN_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      TLS_CERT_FILE: "/nonexistent/tls.crt",
      TLS_KEY_FILE: "/nonexistent/tls.key",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("TLS_CERT_FILE /nonexistent/tls.crt cannot be read: ENOENT");
  });
});
