import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import type { SignalReadings } from "../../src/readings/signal-table.ts";
import { externalScalerClientConstructor } from "../../src/server/proto.ts";
import { type RunningScaler, startScalerServer } from "../../src/server/scaler-server.ts";
import type { SignalSource } from "../../src/sources/signal-source.ts";

/**
 * A SignalSource whose readings the test sets. It stands in for the upstream systems so that
 * these tests exercise the gRPC contract; the real sources have their own integration tests.
 */
export class ScriptedSource implements SignalSource {
  readings: SignalReadings = {};
  /** When set, read() waits this long (or until aborted) before answering. */
  delayMs = 0;
  reads = 0;

  async read(): Promise<SignalReadings> {
    this.reads++;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return this.readings;
  }

  setBacklog(messages: number, nowMs = Date.now()): void {
    this.readings = { queueBacklog: { ok: true, value: messages, observedAtMs: nowMs } };
  }
}

export interface Harness {
  readonly scaler: RunningScaler;
  readonly source: ScriptedSource;
  readonly address: string;
  stop(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const fullEnv = {
    LISTEN_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    STREAM_REFRESH_SECONDS: "0.05",
    DECISION_TTL_SECONDS: "0.02",
    SHUTDOWN_GRACE_SECONDS: "2",
    ...env,
  };
  const source = new ScriptedSource();
  const scaler = await startScalerServer({
    config: loadServiceConfig(fullEnv),
    env: fullEnv,
    source,
    logger: pino({ level: "silent" }),
  });
  return {
    scaler,
    source,
    address: `127.0.0.1:${scaler.grpcPort}`,
    stop: () => scaler.shutdown(),
  };
}

/** A client built from the same proto KEDA compiles, with promise-returning unary calls. */
export class KedaLikeClient {
  readonly raw: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

  constructor(
    address: string,
    credentials = grpc.credentials.createInsecure(),
    options: grpc.ChannelOptions = {},
  ) {
    const Client = externalScalerClientConstructor();
    this.raw = new Client(address, credentials, options) as KedaLikeClient["raw"];
  }

  call<Res>(method: string, request: unknown, deadlineMs = 5000): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = this.raw[method] as (
        req: unknown,
        meta: grpc.Metadata,
        opts: grpc.CallOptions,
        cb: (e: grpc.ServiceError | null, r: Res) => void,
      ) => void;
      fn.call(
        this.raw,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error, response) => (error ? reject(error) : resolve(response)),
      );
    });
  }

  /** Opens a server-streaming call (StreamIsActive, StreamMetricSpec). */
  stream<Res>(method: string, request: unknown): grpc.ClientReadableStream<Res> {
    const fn = this.raw[method] as (req: unknown) => grpc.ClientReadableStream<Res>;
    return fn.call(this.raw, request);
  }

  close(): void {
    this.raw.close();
  }
}

export function ref(name: string, scalerMetadata: Record<string, string> = {}, namespace = "inference") {
  return {
    name,
    namespace,
    scalerMetadata: { scalerAddress: "keda-llm-scaler.keda:6000", ...scalerMetadata },
  };
}

/** Metadata under which the HPA count equals the backlog: one replica per message, no headroom. */
export const ONE_PER_MESSAGE = {
  queueMode: "perReplica",
  messagesPerReplica: "1",
  targetUtilisation: "1",
  maxReplicas: "1000",
};

/** The gRPC status a call ends with (OK when it succeeds), with the server's message. */
export function statusOf(promise: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  return promise.then(
    () => ({ code: grpc.status.OK, details: "" }),
    (error: grpc.ServiceError) => ({ code: error.code, details: error.details }),
  );
}

/** Polls until `check` passes or the bound runs out (no blind sleeps on a loaded machine). */
export async function eventually(
  check: () => void | Promise<void>,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** A harness and a client for the enclosing describe block (or file), read once it has started. */
export interface HarnessInUse {
  readonly harness: Harness;
  readonly client: KedaLikeClient;
}

/**
 * Starts a harness (with `backlog` set, if given) and a KedaLikeClient before the enclosing
 * describe block's tests, and closes both after them: the setup most server test files share.
 */
export function useHarness(env: Record<string, string> = {}, backlog?: number): HarnessInUse {
  let started: HarnessInUse | undefined;
  beforeAll(async () => {
    const harness = await startHarness(env);
    if (backlog !== undefined) harness.source.setBacklog(backlog);
    started = { harness, client: new KedaLikeClient(harness.address) };
  });
  afterAll(async () => {
    started?.client.close();
    await started?.harness.stop();
  });
  const running = (): HarnessInUse => {
    if (!started) throw new Error("useHarness: read before its beforeAll ran");
    return started;
  };
  return {
    get harness() {
      return running().harness;
    },
    get client() {
      return running().client;
    },
  };
}
