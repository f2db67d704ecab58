import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCli } from "../support/cli.ts";
import { FakeHttpServer } from "../support/fake-http.ts";
import { eventually, KedaLikeClient, ref, statusOf } from "../support/scaler-harness.ts";
import { ServiceBusEndpoint } from "../support/servicebus-endpoint.ts";

/**
 * Shutdown with every upstream hanging: Prometheus accepts and never answers, Service Bus holds
 * its answer for ten minutes, and the ScaledObject asks for the longest query timeout allowed
 * (60 s) with SOURCE_TIMEOUT_MS at its maximum too. The process must still stop within its
 * SHUTDOWN_GRACE_SECONDS: these tests would run into vitest's 45 s limit otherwise.
 */
const hangingPrometheus = new FakeHttpServer();
const hangingServiceBus = new ServiceBusEndpoint();

beforeAll(async () => {
  hangingPrometheus.handler = () => {};
  await hangingPrometheus.listen();
  await hangingServiceBus.start();
  hangingServiceBus.faults.set("*", { delayMs: 600_000 });
});

afterAll(async () => {
  await hangingPrometheus.close();
  await hangingServiceBus.stop();
});

function startServe() {
  return startCli(["serve"], {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    PROMETHEUS_URL: hangingPrometheus.url,
    SERVICEBUS_CONNECTION_STRING: hangingServiceBus.connectionString(),
    SERVICEBUS_CA_FILE: hangingServiceBus.ca.certFile,
    SOURCE_TIMEOUT_MS: "60000",
    SHUTDOWN_GRACE_SECONDS: "1",
  });
}

describe.each(["SIGTERM", "SIGHUP"] as const)("serve on %s with every upstream hanging", (signal) => {
  it("ends the in-flight call, aborts the upstream requests and exits 0 within the grace period", async () => {
    const prometheusBefore = hangingPrometheus.requests.length;
    const serviceBusBefore = hangingServiceBus.requests.length;
    const serve = startServe();
    await eventually(
      () => expect(serve.lines.some((l) => l.includes('"keda-llm-scaler serving"'))).toBe(true),
      30_000,
      50,
    );
    const { grpcPort } = JSON.parse(serve.lines.find((l) => l.includes('"keda-llm-scaler serving"'))!) as {
      grpcPort: number;
    };
    const client = new KedaLikeClient(`127.0.0.1:${grpcPort}`);
    const so = ref("chat", { serviceBusQueue: "requests", queryTimeoutMs: "60000" });
    const inFlight = statusOf(
      client.call("GetMetrics", { scaledObjectRef: so, metricName: "llm-desired-replicas" }, 600_000),
    );
    await eventually(() => {
      expect(hangingPrometheus.requests.length).toBeGreaterThan(prometheusBefore);
      expect(hangingServiceBus.requests.length).toBeGreaterThan(serviceBusBefore);
    }, 20_000);

    serve.child.kill(signal);
    expect(await serve.exited).toBe(0);
    expect((await inFlight).code).not.toBe(grpc.status.OK);
    const log = serve.lines.join("\n");
    expect(log).toContain(`"signal":"${signal}"`);
    expect(log).toContain('"msg":"stopped"');
    client.close();
  }, 45_000);
});
