/**
 * The answer thread: the gRPC server KEDA calls, answering from a table of the answers the main
 * thread's decision book sends it (answer-table.ts). Nothing else runs on this thread's event
 * loop — no decision, no source, no scrape — so a call waits only for the calls before it.
 * Started by host.ts; it talks to the main thread over its parent port (messages.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import * as grpc from "@grpc/grpc-js";
import { ExternalScalerService } from "../external-scaler.ts";
import { startGrpcServer } from "../grpc-server.ts";
import { ListenError } from "../listen-error.ts";
import { createLogger } from "../logger.ts";
import { peerMemoryService } from "../peers/peer-sync.ts";
import type { ScaledObjectRequest } from "../scaled-object-table.ts";
import { ANSWER_TABLE_MAX_BYTES, type AnswerDeskLink, AnswerTable, refusal } from "./answer-table.ts";
import { HandedOverMetrics } from "./handed-over-metrics.ts";
import {
  type AnswerThreadData,
  DROPPED,
  type FromAnswerThread,
  type KeptAnswer,
  POLLED,
  type ToAnswerThread,
} from "./messages.ts";
import { RelayedCalls } from "./relay.ts";

/**
 * Poll notes wait at most this long before they go to the main thread, in one message: the book
 * plans each next decision from them, a second ahead of the next poll (KEDA polls every few
 * seconds), so a tenth of a second late changes no plan. Each message costs this thread ~25 µs
 * or more to send (waking the other thread), more than a call's own answer: one per call, or
 * even one every 25 ms, was a visible share of its time.
 */
const NOTES_BATCH_MS = 100;

const port = parentPort;
if (!port) throw new Error("the answer thread runs as a worker thread (host.ts starts it)");
const post = (message: FromAnswerThread) => port.postMessage(message);
const { config, env, logLevel, startsNotServing } = workerData as AnswerThreadData;

// Lines go to the main thread's log, which writes them with its own, in order, to one stdout.
const logger = createLogger(logLevel, { write: (line: string) => post({ type: "log", line }) });
const grpcLog = (level: "error" | "info" | "debug") => (message: unknown) =>
  logger[level]({ component: "grpc-js" }, String(message));
grpc.setLogger({ error: grpcLog("error"), info: grpcLog("info"), debug: grpcLog("debug") });

/**
 * The main thread's heartbeats (host.ts) may be this late before the liveness answer turns
 * NOT_SERVING: no decision, parse or scrape holds that loop for seconds, and one that does
 * leaves every ask waiting; Kubernetes's liveness probe then restarts the pod.
 */
const MAIN_STALL_MS = 10_000;

interface Ask {
  readonly resolve: (answer: KeptAnswer) => void;
  readonly reject: (error: Error) => void;
}

/** The asks under way, by id: settled by the main thread's reply. */
const asks = new Map<number, Ask>();
let nextAskId = 1;
let notes: number[] = [];

function note(kind: number, slotId: number, atMs: number): void {
  if (notes.length === 0) setTimeout(sendNotes, NOTES_BATCH_MS).unref();
  notes.push(kind, slotId, atMs);
}

function sendNotes(): void {
  if (notes.length === 0) return;
  post({ type: "notes", notes });
  notes = [];
}

const desk: AnswerDeskLink = {
  ask: (slotId: number, request: ScaledObjectRequest, polledAtMs: number | undefined) =>
    new Promise<KeptAnswer>((resolve, reject) => {
      const askId = nextAskId++;
      asks.set(askId, { resolve, reject });
      // Plain copies: the request's metadata is a decoded message's object.
      const { name, namespace, scalerMetadata } = request;
      post({ type: "ask", askId, slotId, request: { name, namespace, scalerMetadata }, polledAtMs });
    }),
  polled: (slotId, atMs) => note(POLLED, slotId, atMs),
  dropped: (slotId) => note(DROPPED, slotId, 0),
};

const table = new AnswerTable({
  env,
  clock: Date.now,
  decisionTtlMs: config.server.decisionTtlSeconds * 1000,
  maxEntries: config.server.maxScaledObjects,
  maxBytes: ANSWER_TABLE_MAX_BYTES,
  desk,
});
const metrics = new HandedOverMetrics(post);
const service = new ExternalScalerService({
  book: table,
  metrics,
  logger,
  streamRefreshMs: config.server.streamRefreshSeconds * 1000,
});

function settleAsk(askId: number, outcome: (ask: Ask) => void): void {
  const ask = asks.get(askId);
  if (!ask) return;
  asks.delete(askId);
  outcome(ask);
}

/**
 * The liveness answer (health service ""): what the main thread last said, unless its heartbeats
 * have stopped. Kept apart so that a stall's NOT_SERVING does not outlive the stall, and a
 * shutdown's does not end with it.
 */
function watchMainThread(setLive: (status: "SERVING" | "NOT_SERVING") => void) {
  let said: "SERVING" | "NOT_SERVING" = "SERVING";
  let lastBeatMs = Date.now();
  let stalled = false;
  const show = () => setLive(said === "SERVING" && !stalled ? "SERVING" : "NOT_SERVING");
  setInterval(() => {
    const late = Date.now() - lastBeatMs > MAIN_STALL_MS;
    if (late === stalled) return;
    stalled = late;
    if (late)
      logger.error(
        { lateMs: Date.now() - lastBeatMs },
        "the main thread has not answered: liveness NOT_SERVING",
      );
    show();
  }, 1000).unref();
  return {
    heartbeat: () => {
      lastBeatMs = Date.now();
      if (stalled) {
        stalled = false;
        show();
      }
    },
    said: (status: "SERVING" | "NOT_SERVING") => {
      said = status;
      show();
    },
  };
}

try {
  // The replicas' memory service shares the port; its store is the main thread's (relay.ts).
  const relayed = new RelayedCalls(post);
  const server = await startGrpcServer({
    config,
    startsNotServing,
    externalScaler: service.implementation,
    addServices: (grpcServer) => {
      if (config.peers.dns !== undefined) relayed.addTo(grpcServer, peerMemoryService().service);
    },
  });
  const liveness = watchMainThread((status) => server.health.setStatus("", status));
  port.on("message", (message: ToAnswerThread) => {
    switch (message.type) {
      case "kept":
        table.received(message.answers);
        break;
      case "answered":
        settleAsk(message.askId, (ask) => ask.resolve(message.answer));
        break;
      case "refused":
        settleAsk(message.askId, (ask) => ask.reject(refusal(message.code, message.details)));
        break;
      case "heartbeat":
        liveness.heartbeat();
        break;
      case "relayed":
        relayed.answered(message);
        break;
      case "health":
        if (message.service === "" && message.status !== "UNKNOWN") liveness.said(message.status);
        else server.health.setStatus(message.service, message.status);
        break;
      case "flush":
        metrics.flushAll();
        post({ type: "flushed", flushId: message.flushId });
        break;
      case "stop":
        service.endAllStreams();
        void server
          .stop(message.graceMs, () =>
            logger.warn("in-flight calls outlived the shutdown grace period; closing them"),
          )
          .then(() => {
            sendNotes();
            metrics.flushAll();
            post({ type: "stopped" });
          });
        break;
    }
  });
  post({ type: "serving", port: server.port, security: server.security });
} catch (error) {
  post({
    type: "failed",
    message: error instanceof Error ? error.message : String(error),
    listen: error instanceof ListenError,
  });
}
