import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { failureOf } from "../../readings/reading.ts";
import { failureForError } from "../failures.ts";
import type { QueryAnswer } from "./answer.ts";
import { MAX_BODY_BYTES, MAX_SOCKETS } from "./http.ts";
import type { FromQueryThread, QueryThreadData, ToQueryThread } from "./query-worker.ts";

/**
 * Prometheus requests on a thread of their own. Each request is a connection write, an HTTP
 * round trip and a JSON parse, and every call that arrives at the event loop that answers KEDA
 * while it does them waits: an answer of several MiB (a proxy's error page, one tenant's custom
 * query over every pod) held that loop for tens of milliseconds (`npm run bench:answers`). Here that work runs
 * beside the loop, which only sends the query and takes the samples back. Deadlines stay on the
 * loop (stopping.ts): a deadline that passes answers at once and closes the request's socket on
 * the thread.
 */

/**
 * The most memory the thread can hold, in MiB: every connection (MAX_SOCKETS) with a body at the
 * limit buffered, one body parsed at a time (the worst JSON for its size, millions of empty
 * objects, takes ~22 times its text: 44.7 MiB of heap for 2 MiB, measured with
 * `v8.getHeapStatistics()` around one JSON.parse), and the isolate itself (~10 MiB). V8 cannot
 * bound it for us: a worker's `resourceLimits` give way to the process's --max-old-space-size,
 * which the Deployment sets (with it a thread's heap limit reads 816 MiB, not the 60 asked for),
 * so the body limit is the bound. The Deployment's memory limit counts this beside the main heap
 * (test/deploy/heap.test.ts).
 */
export const QUERY_THREAD_WORST_CASE_MIB = Math.ceil(
  (MAX_SOCKETS * MAX_BODY_BYTES + 22 * MAX_BODY_BYTES) / 2 ** 20 + 10,
);

/** The worker's file beside this one: `.ts` under the tests' loader, `.js` in the image's build. */
const WORKER_FILE = new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

const RESTART_DELAY_MAX_MS = 30_000;

/**
 * When a query's deadline passes, the thread is asked for a sign of life: a thread whose event
 * loop is free answers at once, however long its requests hang (a hung Prometheus is the
 * deadlines' business). One that has not answered within this long is stuck (a loop that never
 * yields), and every query would time out until the process restarted: it is ended, and a new
 * thread starts as after any stop.
 */
const PING_TIMEOUT_MS = 2000;

/**
 * A thread that ran this long before it stopped had a life of its own: its stop starts the count
 * afresh. (Not "answered a query": a thread that answers one and then stops on the next, every
 * time, would otherwise be restarted at once for ever.)
 */
const STEADY_LIFE_MS = 60_000;

/**
 * How long a new thread waits after the thread stopped (or could not start) this many times in a
 * row: the first at once (a one-off fault costs the queries that were waiting), then 1, 2, 4… s up
 * to RESTART_DELAY_MAX_MS, so a thread that keeps stopping (a broken image, a fault on every load)
 * costs neither a start per query nor a warning per poll.
 */
export function restartDelayMs(consecutiveStops: number): number {
  if (consecutiveStops <= 1) return 0;
  return Math.min(RESTART_DELAY_MAX_MS, 1000 * 2 ** (consecutiveStops - 2));
}

/** The thread stopped or could not start. */
export interface QueryThreadStop {
  /** "stopped (CODE)" or "could not start (CODE)": an error's code or the exit code, never its text. */
  readonly reason: string;
  /** When a new thread starts; until then every query fails at once as unreachable. */
  readonly restartInMs: number;
}

export interface QueryThreadOptions {
  /** The thread's code (query-worker.ts; a test gives one that misbehaves). */
  readonly workerFile?: URL;
  /** For the restart delay and a thread's life (default: the process's monotonic clock). */
  readonly clock?: () => number;
  /** Told of every stop, for the log and /metrics. */
  readonly onStop?: (stop: QueryThreadStop) => void;
}

interface Waiting {
  readonly what: string;
  readonly settle: (answer: QueryAnswer) => void;
}

export class QueryThread {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private readonly data: QueryThreadData;
  private readonly options: QueryThreadOptions;
  /** Stops in a row (none counted across a steady life), why the last one, and when to start again. */
  private consecutiveStops = 0;
  private lastStop = "";
  private restartAtMs = 0;
  private startedAtMs = 0;
  /** Starts the next thread when the restart delay is over, without waiting for a query. */
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sign of life asked for after a deadline passed, until the thread answers it. */
  private ping: { readonly worker: Worker; readonly timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(queryUrl: URL, caPem: Buffer | undefined, options: QueryThreadOptions = {}) {
    this.data = { queryUrl: queryUrl.href, caPem: caPem ? new Uint8Array(caPem) : undefined };
    this.options = options;
  }

  /**
   * The query's answer, or a typed failure: never throws. `signal` ends the wait at once (the
   * deadline or the process stopping) and closes the request on the thread.
   */
  query(
    request: { readonly expr: string; readonly timeoutMs: number; readonly what: string },
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<QueryAnswer> {
    const { what, timeoutMs } = request;
    if (this.closed)
      return Promise.resolve(failureOf("prometheus", "unreachable", `${what}: the scaler is shutting down`));
    if (signal.aborted) return Promise.resolve(abortedAnswer(what, timeoutMs));
    const worker = this.started();
    if (typeof worker === "string")
      return Promise.resolve(failureOf("prometheus", "unreachable", `${what}: ${worker}`));
    const id = this.nextId++;
    return new Promise<QueryAnswer>((resolve) => {
      const onAbort = () => {
        this.forget(id);
        worker.postMessage({ type: "cancel", id } satisfies ToQueryThread);
        resolve(abortedAnswer(what, timeoutMs));
        this.askForSignOfLife(worker);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, {
        what,
        settle: (answer) => {
          signal.removeEventListener("abort", onAbort);
          resolve(answer);
        },
      });
      // While a query waits, the thread keeps the process alive, as the request's socket did
      // before (a one-shot command such as `explain --live` waits for its answer); idle, it
      // never does.
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ type: "query", id, ...request, headers } satisfies ToQueryThread);
    });
  }

  /** Stops the thread; queries still waiting fail at once. */
  close(): void {
    this.closed = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.ping?.timer);
    const worker = this.worker;
    this.worker = undefined;
    this.failWaiting("the scaler is shutting down");
    void worker?.terminate();
  }

  /**
   * Starts the thread ahead of the first query: loading it takes ~0.1–0.3 s, which would
   * otherwise be spent inside the first query's deadline.
   */
  start(): void {
    if (!this.closed) this.started();
  }

  /** The running thread, started if need be; or why there is none. */
  private started(): Worker | string {
    if (this.worker) return this.worker;
    const waitMs = this.restartAtMs - this.now();
    if (waitMs > 0)
      return `the query thread ${this.lastStop}; a new one starts in ${Math.ceil(waitMs / 1000)} s`;
    let worker: Worker;
    this.startedAtMs = this.now();
    try {
      // None of the main thread's flags: the thread needs none, and some (a loader, an input
      // type, a recorder preloaded by a benchmark) are not for it.
      worker = new Worker(this.options.workerFile ?? WORKER_FILE, { workerData: this.data, execArgv: [] });
    } catch (error) {
      const reason = `could not start (${codeOf(error)})`;
      this.stopped(reason);
      return `the query thread ${reason}`;
    }
    worker.on("message", (message: FromQueryThread) => {
      if ("pong" in message) {
        this.endPing(worker);
        return;
      }
      const { id, answer } = message;
      const waiting = this.waiting.get(id);
      if (!waiting) return;
      this.forget(id);
      waiting.settle(answer);
    });
    // An uncaught error ends the thread ("exit" follows): its queries fail, the next starts anew.
    // Only the error's code is kept: an error's text can carry the upstream's address.
    let stoppedBy = "";
    worker.on("error", (error: unknown) => {
      stoppedBy = codeOf(error);
    });
    // A thread already retired (closed, or ended for giving no sign of life) is not stopped twice.
    worker.on("exit", (code) => {
      if (this.worker === worker) this.retire(worker, `stopped (${stoppedBy || `exit code ${code}`})`);
    });
    // After the listeners: adding a "message" listener refs the thread again. Idle, the thread
    // never keeps the process alive; while a query waits, it does (query()).
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** After a deadline passed: a thread that does not answer a ping in time is ended (PING_TIMEOUT_MS). */
  private askForSignOfLife(worker: Worker): void {
    if (this.closed || this.worker !== worker || this.ping?.worker === worker) return;
    const timer = setTimeout(() => {
      if (this.ping?.worker !== worker || this.worker !== worker) return;
      this.retire(worker, `stopped (no sign of life within ${PING_TIMEOUT_MS / 1000} s of a deadline)`);
      void worker.terminate();
    }, PING_TIMEOUT_MS);
    timer.unref();
    this.ping = { worker, timer };
    worker.postMessage({ type: "ping" } satisfies ToQueryThread);
  }

  /** The sign of life asked of `worker`, if any, is no longer awaited. */
  private endPing(worker: Worker): void {
    if (this.ping?.worker !== worker) return;
    clearTimeout(this.ping.timer);
    this.ping = undefined;
  }

  /** The running thread is done: its waiting queries fail with `reason`, and the stop is counted. */
  private retire(worker: Worker, reason: string): void {
    this.worker = undefined;
    this.endPing(worker);
    this.failWaiting(`the query thread ${reason}`);
    this.stopped(reason);
  }

  /**
   * Counts a stop, and starts a new thread after the delay it earns: at once for a first stop, so
   * that its load (0.1–0.3 s) falls outside the next query's deadline, as start() does.
   */
  private stopped(reason: string): void {
    const nowMs = this.now();
    if (nowMs - this.startedAtMs >= STEADY_LIFE_MS) this.consecutiveStops = 0;
    this.consecutiveStops++;
    this.lastStop = reason;
    const restartInMs = restartDelayMs(this.consecutiveStops);
    this.restartAtMs = nowMs + restartInMs;
    clearTimeout(this.restartTimer);
    // Unreferenced: a new thread is no reason to keep the process alive.
    this.restartTimer = setTimeout(() => this.start(), restartInMs);
    this.restartTimer.unref();
    // The log and the counter must not decide whether the thread's queries are answered.
    try {
      this.options.onStop?.({ reason, restartInMs });
    } catch {}
  }

  private now(): number {
    return this.options.clock ? this.options.clock() : performance.now();
  }

  private forget(id: number): void {
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker?.unref();
  }

  private failWaiting(reason: string): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    this.worker?.unref();
    for (const { what, settle } of waiting)
      settle(failureOf("prometheus", "unreachable", `${what}: ${reason}`));
  }
}

/** An error's code (or name): never its text, which can carry the upstream's address. */
function codeOf(error: unknown): string {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  return typeof code === "string" ? code : typeof name === "string" ? name : "unknown error";
}

/** A deadline that passed, or the process stopping, reads as a timeout (as a closed socket did). */
function abortedAnswer(what: string, timeoutMs: number): QueryAnswer {
  return failureForError("prometheus", new DOMException("aborted", "AbortError"), what, timeoutMs);
}
