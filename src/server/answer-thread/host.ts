import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type * as grpc from "@grpc/grpc-js";
import type { ServingStatus } from "grpc-health-check";
import { pino } from "pino";
import type { RawInputs } from "../../config/resolve.ts";
import type { ServiceConfig } from "../../config/service-config.ts";
import type { TransportSecurity } from "../credentials.ts";
import type { BookEntry, DecisionBook, KeptStamp } from "../decision-book.ts";
import type { KeptDecision } from "../kept-decision.ts";
import { ListenError } from "../listen-error.ts";
import type { Logger } from "../logger.ts";
import type { ScalerMetrics } from "../metrics.ts";
import { ANSWER_TABLE_MAX_BYTES } from "./answer-table.ts";
import { AnswerDesk } from "./desk.ts";
import type { AnswerThreadData, FromAnswerThread, ToAnswerThread } from "./messages.ts";
import { RelayTarget } from "./relay.ts";

/** The thread's file beside this one: `.ts` under the tests' loader, `.js` in the image's build. */
const THREAD_FILE = new URL(`./thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/**
 * The most memory the answer thread's heap can hold, in MiB: its table at its byte bound
 * (ANSWER_TABLE_MAX_BYTES, which charges every ScaledObject its parsed settings in full although
 * ScaledObjects with the same metadata share them), the parsed settings it keeps
 * for reuse (8 MiB), the young generation as the Deployment's NODE_OPTIONS size it (3 × 16 MiB:
 * V8's flags are the process's, a worker's too) and the isolate itself (~10 MiB). The Deployment's
 * memory limit counts it beside the main heap and the query thread's (test/deploy/heap.test.ts).
 */
export const ANSWER_THREAD_WORST_CASE_MIB = Math.ceil(ANSWER_TABLE_MAX_BYTES / 2 ** 20) + 8 + 3 * 16 + 10;

/**
 * How often the main thread tells the answer thread that its loop turns. The thread answers the
 * liveness probe (gRPC health, service "") and says NOT_SERVING when these stop (thread.ts): a
 * main loop that never yields would otherwise go unnoticed while KEDA's asks wait on it.
 */
const HEARTBEAT_MS = 1000;

/**
 * How long a scrape of /metrics waits for the answer thread's counts before it goes on without
 * the last batch: a thread that does not answer in this long is not answering KEDA either.
 */
const FLUSH_TIMEOUT_MS = 1000;

/** The running answer thread, as the main thread drives it. */
export interface AnswerThread {
  readonly grpcPort: number;
  readonly security: TransportSecurity;
  /** Streams open on the thread, as its notes have told so far. */
  readonly openStreamCount: number;
  setHealth(service: string, status: ServingStatus): void;
  /** The thread's RPC counts and durations, in the main thread's registry before a scrape reads it. */
  flushMetrics(): Promise<void>;
  /** Ends the streams, lets in-flight calls finish within `graceMs`, then ends the thread. */
  stop(graceMs: number): Promise<void>;
  /** For the book's onKept and onForget: what the thread must hear of the book. */
  kept(entry: BookEntry, decision: KeptDecision, stamp: KeptStamp): void;
  forgotten(entry: BookEntry): void;
}

export interface AnswerThreadOptions {
  readonly config: ServiceConfig;
  readonly env: RawInputs["env"];
  readonly book: DecisionBook;
  readonly metrics: ScalerMetrics;
  readonly logger: Logger;
  /** The ExternalScaler service starts NOT_SERVING (with peers, until their memory is copied). */
  readonly startsNotServing: boolean;
  /** Services served here whose calls the thread relays (the replicas' PeerMemory): given the stand-in server. */
  readonly addRelayedServices?: (server: grpc.Server) => void;
  /** The thread stopped without being asked to: KEDA's port is gone with it. */
  readonly onLost: (reason: string) => void;
}

/**
 * Starts the answer thread (thread.ts) and serves it from the decision book: its asks and notes
 * go to the desk, its counts to the registry, its log lines to the log. Resolves once its gRPC
 * server is bound; rejects with a ListenError when the port cannot be.
 */
export function startAnswerThread(options: AnswerThreadOptions): Promise<AnswerThread> {
  const { config, env, metrics, logger } = options;
  const data: AnswerThreadData = {
    config,
    env,
    logLevel: logger.level,
    startsNotServing: options.startsNotServing,
  };
  const worker = new Worker(THREAD_FILE, { workerData: data, execArgv: [] });
  const send = (message: ToAnswerThread) => worker.postMessage(message);
  const desk = new AnswerDesk(options.book, send, logger);
  const relay = new RelayTarget(send);
  options.addRelayedServices?.(relay.server);
  // The thread's lines are whole JSON lines already: written to the log's own destination.
  const logStream = (logger as unknown as Record<symbol, { write(line: string): void } | undefined>)[
    pino.symbols.streamSym
  ] ?? { write: (line: string) => process.stdout.write(line) };
  const flushes = new Map<number, () => void>();
  let nextFlushId = 1;
  /** Streams open on the thread, by method, as its notes have told. */
  const openStreams = new Map<string, number>();
  const countOpen = (method: string, change: number) =>
    openStreams.set(method, (openStreams.get(method) ?? 0) + change);
  let stopping = false;
  let exited = false;
  let stopped: (() => void) | undefined;
  const heartbeat = setInterval(() => send({ type: "heartbeat" }), HEARTBEAT_MS);
  heartbeat.unref();

  return new Promise<AnswerThread>((resolve, reject) => {
    const thread: Omit<AnswerThread, "grpcPort" | "security"> = {
      get openStreamCount() {
        let open = 0;
        for (const count of openStreams.values()) open += count;
        return open;
      },
      setHealth: (service, status) => send({ type: "health", service, status }),
      flushMetrics: () =>
        new Promise<void>((done) => {
          const flushId = nextFlushId++;
          const timer = setTimeout(() => {
            flushes.delete(flushId);
            done();
          }, FLUSH_TIMEOUT_MS);
          flushes.set(flushId, () => {
            clearTimeout(timer);
            done();
          });
          send({ type: "flush", flushId });
        }),
      stop: (graceMs) => {
        stopping = true;
        clearInterval(heartbeat);
        // A thread already gone has nothing left to finish.
        if (exited) return Promise.resolve();
        return new Promise<void>((done) => {
          // The thread's own grace timer ends its server; this one ends a thread that never answers.
          const timer = setTimeout(() => void worker.terminate().then(() => done()), graceMs + 2000);
          stopped = () => {
            clearTimeout(timer);
            void worker.terminate().then(() => done());
          };
          send({ type: "stop", graceMs });
        });
      },
      kept: (entry, decision, stamp) => desk.kept(entry, decision, stamp),
      forgotten: (entry) => desk.forgotten(entry),
    };

    const streamEvent = (message: Extract<FromAnswerThread, { type: "stream" }>) => {
      switch (message.event) {
        case "opened":
          countOpen(message.method, 1);
          metrics.streamOpened(message.method);
          break;
        case "closed":
          countOpen(message.method, -1);
          metrics.streamClosed(message.method);
          break;
        case "answered":
          metrics.streamAnswered(message.method, message.code);
          break;
        case "first":
          metrics.streamFirstMessage(message.method, message.seconds);
          break;
      }
    };

    worker.on("message", (message: FromAnswerThread) => {
      switch (message.type) {
        case "serving":
          resolve(Object.assign(thread, { grpcPort: message.port, security: message.security }));
          break;
        case "failed":
          stopping = true;
          void worker.terminate();
          reject(message.listen ? new ListenError(message.message) : new Error(message.message));
          break;
        case "ask":
          desk.ask(message.askId, message.slotId, message.request, message.polledAtMs);
          break;
        case "relay":
          relay.call(message);
          break;
        case "notes":
          desk.noted(message.notes);
          break;
        case "rpc":
          metrics.handedOver(message.method, message.counts, message.seconds);
          break;
        case "stream":
          streamEvent(message);
          break;
        case "flushed":
          flushes.get(message.flushId)?.();
          flushes.delete(message.flushId);
          break;
        case "log":
          logStream.write(message.line);
          break;
        case "stopped":
          stopped?.();
          break;
      }
    });
    worker.on("error", (error) => {
      logger.error({ err: error }, "the answer thread failed");
    });
    worker.on("exit", (code) => {
      exited = true;
      clearInterval(heartbeat);
      for (const flush of flushes.values()) flush();
      flushes.clear();
      // Streams end with the thread: the gauge must not show them open.
      for (const [method, open] of openStreams) for (let i = 0; i < open; i++) metrics.streamClosed(method);
      openStreams.clear();
      stopped?.();
      if (stopping) return;
      const reason = `the answer thread exited (code ${code})`;
      reject(new Error(reason));
      options.onLost(reason);
    });
  });
}
