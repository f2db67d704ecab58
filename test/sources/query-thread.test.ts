import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  QueryThread,
  type QueryThreadOptions,
  type QueryThreadStop,
  restartDelayMs,
} from "../../src/sources/prometheus/query-thread.ts";
import { FakeHttpServer } from "../support/fake-http.ts";

/**
 * The thread that makes Prometheus requests off the event loop that answers KEDA: what crosses
 * the boundary, and what happens when the thread or the wait ends early.
 */

const server = new FakeHttpServer();
const threads: QueryThread[] = [];
const STOPPING_WORKER = new URL("./fixtures/stopping-query-worker.ts", import.meta.url);

function thread(options?: QueryThreadOptions): QueryThread {
  const created = new QueryThread(new URL(`${server.url}/api/v1/query`), undefined, options);
  threads.push(created);
  return created;
}

const never = new AbortController().signal;
const query = (expr: string, timeoutMs = 1000) => ({ expr, timeoutMs, what: `${expr} in namespace team-a` });

beforeAll(async () => {
  await server.listen();
});

afterEach(() => {
  for (const created of threads.splice(0)) created.close();
  server.requests.length = 0;
});

afterAll(async () => {
  await server.close();
});

describe("QueryThread", () => {
  it("posts the query with its headers and Prometheus' own timeout, and hands back the samples", async () => {
    server.handler = (_request, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: [{ metric: { pod: "a" }, value: [1700000000, "4"] }] },
        }),
      );
    const answer = await thread().query(query("up", 700), { authorization: "Bearer t" }, never);
    expect(answer).toEqual({
      ok: true,
      samples: [{ labels: { pod: "a" }, timestampMs: 1700000000000, value: "4" }],
    });
    const sent = server.requests[0];
    expect(sent?.headers.authorization).toBe("Bearer t");
    expect(new URLSearchParams(sent?.body).get("query")).toBe("up");
    expect(new URLSearchParams(sent?.body).get("timeout")).toBe("700ms");
  });

  it("answers a timeout at once when the deadline passes, and closes the request's socket on the thread", async () => {
    let closed = false;
    server.handler = (_request, res) => res.on("close", () => (closed = true)); // never answers
    const deadline = new AbortController();
    const answer = thread().query(query("up", 150), {}, deadline.signal);
    await expect.poll(() => server.requests.length).toBe(1);
    deadline.abort();
    expect(await answer).toMatchObject({
      ok: false,
      failure: { kind: "timeout", message: "up in namespace team-a: no answer within 150 ms" },
    });
    await expect.poll(() => closed).toBe(true);
  });

  it("fails the queries waiting on a thread that stops, and starts a new thread for the next", async () => {
    const stops: QueryThreadStop[] = [];
    const stopping = thread({ workerFile: STOPPING_WORKER, onStop: (stop) => stops.push(stop) });
    const stopped = await stopping.query(query("stop"), {}, never);
    expect(stopped).toMatchObject({
      ok: false,
      failure: {
        kind: "unreachable",
        message: "stop in namespace team-a: the query thread stopped (exit code 7)",
      },
    });
    expect(stops).toEqual([{ reason: "stopped (exit code 7)", restartInMs: 0 }]);
    expect(await stopping.query(query("up"), {}, never)).toEqual({ ok: true, samples: [] });
  });

  it("waits longer before each new thread while threads keep stopping, and forgets after a steady life", async () => {
    let nowMs = 0;
    const stops: QueryThreadStop[] = [];
    const stopping = thread({
      workerFile: STOPPING_WORKER,
      clock: () => nowMs,
      onStop: (stop) => stops.push(stop),
    });
    await stopping.query(query("stop"), {}, never);
    // A thread that answers and then stops again is no steady life: the delays still grow.
    expect(await stopping.query(query("up"), {}, never)).toEqual({ ok: true, samples: [] });
    await stopping.query(query("stop"), {}, never);
    expect(stops.map((stop) => stop.restartInMs)).toEqual([0, 1000]);
    // Inside the delay no thread is started: the query fails at once, saying when one will be.
    nowMs = 999;
    expect(await stopping.query(query("up"), {}, never)).toMatchObject({
      ok: false,
      failure: {
        kind: "unreachable",
        message: "up in namespace team-a: the query thread stopped (exit code 7); a new one starts in 1 s",
      },
    });
    expect(stops).toHaveLength(2);
    nowMs = 1000;
    await stopping.query(query("stop"), {}, never);
    expect(stops.map((stop) => stop.restartInMs)).toEqual([0, 1000, 2000]);
    // A thread that ran for a minute before it stopped starts the count afresh.
    nowMs = 3000;
    expect(await stopping.query(query("up"), {}, never)).toEqual({ ok: true, samples: [] });
    nowMs = 63_000;
    await stopping.query(query("stop"), {}, never);
    expect(stops.at(-1)).toEqual({ reason: "stopped (exit code 7)", restartInMs: 0 });
  });

  it("counts a thread that cannot start as a stop, and waits before trying again", async () => {
    const nowMs = 0;
    const stops: QueryThreadStop[] = [];
    // A worker's code must be a file: the constructor refuses any other URL at once.
    const refused = thread({
      workerFile: new URL("https://example.invalid/query-worker.js"),
      clock: () => nowMs,
      onStop: (stop) => stops.push(stop),
    });
    expect(await refused.query(query("up"), {}, never)).toMatchObject({
      ok: false,
      failure: {
        kind: "unreachable",
        message: "up in namespace team-a: the query thread could not start (ERR_INVALID_URL_SCHEME)",
      },
    });
    // The first retry comes at once and by itself (the restart timer, no query asked for it); the
    // next only after a second.
    await expect.poll(() => stops.length).toBe(2);
    expect(stops).toEqual([
      { reason: "could not start (ERR_INVALID_URL_SCHEME)", restartInMs: 0 },
      { reason: "could not start (ERR_INVALID_URL_SCHEME)", restartInMs: 1000 },
    ]);
    expect(await refused.query(query("up"), {}, never)).toMatchObject({
      failure: {
        message:
          "up in namespace team-a: the query thread could not start (ERR_INVALID_URL_SCHEME); a new one starts in 1 s",
      },
    });
  });

  it("reports a thread whose code is missing (a broken image) as stopped with the loader's code", async () => {
    const stops: QueryThreadStop[] = [];
    const missing = thread({
      workerFile: new URL("./fixtures/no-such-worker.ts", import.meta.url),
      onStop: (stop) => stops.push(stop),
    });
    expect(await missing.query(query("up"), {}, never)).toMatchObject({
      ok: false,
      failure: {
        kind: "unreachable",
        message: "up in namespace team-a: the query thread stopped (MODULE_NOT_FOUND)",
      },
    });
    expect(stops[0]).toEqual({ reason: "stopped (MODULE_NOT_FOUND)", restartInMs: 0 });
  });

  it("caps the restart delay at 30 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map(restartDelayMs)).toEqual([
      0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("ends a thread that gives no sign of life after a deadline passed, and starts a new one", async () => {
    const stops: QueryThreadStop[] = [];
    const stuck = thread({ workerFile: STOPPING_WORKER, onStop: (stop) => stops.push(stop) });
    const deadline = new AbortController();
    const hung = stuck.query(query("hang", 100), {}, deadline.signal);
    setTimeout(() => deadline.abort(), 100);
    expect(await hung).toMatchObject({ ok: false, failure: { kind: "timeout" } });
    await expect
      .poll(() => stops, { timeout: 5000 })
      .toEqual([{ reason: "stopped (no sign of life within 2 s of a deadline)", restartInMs: 0 }]);
    expect(await stuck.query(query("up"), {}, never)).toEqual({ ok: true, samples: [] });
  });

  it("keeps a thread whose requests hang but which answers for itself", async () => {
    server.handler = () => {}; // Prometheus never answers
    const stops: QueryThreadStop[] = [];
    const waiting = thread({ onStop: (stop) => stops.push(stop) });
    const deadline = new AbortController();
    const read = waiting.query(query("up", 100), {}, deadline.signal);
    await expect.poll(() => server.requests.length).toBe(1);
    deadline.abort();
    expect(await read).toMatchObject({ ok: false, failure: { kind: "timeout" } });
    // Longer than the sign of life may take: the thread answered it, so it stays.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(stops).toEqual([]);
  });

  it("keeps a process with nothing else to do alive while a query waits, and lets it exit when idle", async () => {
    server.handler = (_request, res) =>
      setTimeout(
        () =>
          res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ status: "success", data: { resultType: "scalar", result: [1, "7"] } })),
        300,
      );
    const module = fileURLToPath(new URL("../../src/sources/prometheus/query-thread.ts", import.meta.url));
    // A one-shot command (`explain --live`): its only pending work is the query on the thread.
    const script = `
      const { QueryThread } = await import(${JSON.stringify(module)});
      const thread = new QueryThread(new URL(${JSON.stringify(`${server.url}/api/v1/query`)}), undefined);
      const answer = await thread.query({ expr: "up", timeoutMs: 5000, what: "up" }, {}, new AbortController().signal);
      console.log(JSON.stringify(answer));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out), out).toMatchObject({ ok: true, samples: [{ value: "7" }] });
    // Idle, the thread holds nothing: the process ends when its own work does.
    const idle = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { QueryThread } = await import(${JSON.stringify(module)});
         new QueryThread(new URL(${JSON.stringify(`${server.url}/api/v1/query`)}), undefined).start();`,
      ],
      { stdio: "ignore" },
    );
    expect(await new Promise<number | null>((resolve) => idle.once("exit", resolve))).toBe(0);
  }, 20_000);

  it("answers waiting and later queries at once once closed", async () => {
    server.handler = () => {}; // never answers
    const stops: QueryThreadStop[] = [];
    const closing = thread({ onStop: (stop) => stops.push(stop) });
    const waiting = closing.query(query("up"), {}, never);
    await expect.poll(() => server.requests.length).toBe(1);
    closing.close();
    expect(await waiting).toMatchObject({
      ok: false,
      failure: { kind: "unreachable", message: "up in namespace team-a: the scaler is shutting down" },
    });
    expect(await closing.query(query("up"), {}, never)).toMatchObject({
      ok: false,
      failure: { kind: "unreachable" },
    });
    // The thread it ended is not a stop: no warning, no count, no new thread.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stops).toEqual([]);
  });
});
