import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { failureOf } from "../../readings/reading.ts";
import { failureForError } from "../failures.ts";
import type { QueryAnswer } from "./answer.ts";
import type { FromQueryThread, QueryThreadData, ToQueryThread } from "./query-worker.ts";

/**
 * Prometheus requests on a thread of their own. Each request is a connection write, an HTTP
 * round trip and a JSON parse, and every call that arrives at the event loop that answers KEDA
 * while it does them waits: an answer of several MiB (a proxy's error page, one tenant's custom
 * query over every pod) held that loop for ~0.1 s (`npm run bench:answers`). Here that work runs
 * beside the loop, which only sends the query and takes the samples back. Deadlines stay on the
 * loop (stopping.ts): a deadline that passes answers at once and closes the request's socket on
 * the thread.
 */

/**
 * Heap bounds of the thread. Its largest job is an 8 MiB body (http.ts's MAX_BODY_BYTES) and its
 * parse: a Prometheus answer of that size takes ~10–20 MB of objects. A body made to take more
 * (millions of tiny objects) stops the thread, its queries fail as unreachable, and the next query
 * starts a new one; the process and its other tenants go on. The Deployment's memory limit counts
 * this heap beside the main one (test/deploy/heap.test.ts).
 */
export const QUERY_THREAD_LIMITS = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };

/** The worker's file beside this one: `.ts` under the tests' loader, `.js` in the image's build. */
const WORKER_FILE = new URL(`./query-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

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
  private readonly workerFile: URL;

  /** `workerFile`: the thread's code (query-worker.ts; a test gives one that misbehaves). */
  constructor(queryUrl: URL, caPem: Buffer | undefined, workerFile: URL = WORKER_FILE) {
    this.data = { queryUrl: queryUrl.href, caPem: caPem ? new Uint8Array(caPem) : undefined };
    this.workerFile = workerFile;
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
    const id = this.nextId++;
    return new Promise<QueryAnswer>((resolve) => {
      const onAbort = () => {
        this.waiting.delete(id);
        worker.postMessage({ type: "cancel", id } satisfies ToQueryThread);
        resolve(abortedAnswer(what, timeoutMs));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, {
        what,
        settle: (answer) => {
          signal.removeEventListener("abort", onAbort);
          resolve(answer);
        },
      });
      worker.postMessage({ type: "query", id, ...request, headers } satisfies ToQueryThread);
    });
  }

  /** Stops the thread; queries still waiting fail at once. */
  close(): void {
    this.closed = true;
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

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(this.workerFile, {
      workerData: this.data,
      resourceLimits: QUERY_THREAD_LIMITS,
    });
    // An idle thread never keeps the process alive: shutdown is bounded by the deadlines, not by it.
    worker.unref();
    worker.on("message", ({ id, answer }: FromQueryThread) => {
      const waiting = this.waiting.get(id);
      if (!waiting) return;
      this.waiting.delete(id);
      waiting.settle(answer);
    });
    // An uncaught error ends the thread ("exit" follows): its queries fail, the next starts anew.
    // Only the error's code is kept: an error's text can carry the upstream's address.
    let stoppedBy = "";
    worker.on("error", (error: Error & { code?: unknown }) => {
      stoppedBy = typeof error.code === "string" ? error.code : error.name;
    });
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failWaiting(`the query thread stopped (${stoppedBy || `exit code ${code}`})`);
    });
    this.worker = worker;
    return worker;
  }

  private failWaiting(reason: string): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const { what, settle } of waiting)
      settle(failureOf("prometheus", "unreachable", `${what}: ${reason}`));
  }
}

/** A deadline that passed, or the process stopping, reads as a timeout (as a closed socket did). */
function abortedAnswer(what: string, timeoutMs: number): QueryAnswer {
  return failureForError("prometheus", new DOMException("aborted", "AbortError"), what, timeoutMs);
}
