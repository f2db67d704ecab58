/**
 * npm run bench:answers [-- --queries 20]
 *
 * How long a large Prometheus answer holds the event loop that answers KEDA. A Prometheus (or a
 * proxy in front of it, or one tenant's custom query) can answer with megabytes: every call that
 * arrives while the scaler reads and parses them waits. The same answers are read two ways in one
 * run: on the event loop (http.ts's postForm and answer.ts's parseAnswer called there, as the
 * scaler did before its query thread) and through the query thread (query-thread.ts, which runs
 * that very code beside the loop). The loop's delay is sampled every millisecond
 * (`monitorEventLoopDelay`) while the queries run one after another; the answers come from a
 * server on its own thread, so serving them costs the measured loop nothing. Everything listens on
 * 127.0.0.1, and every run is bounded by --queries. Prints one JSON object and writes a block into
 * docs/sources.md.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { parseAnswer } from "../src/sources/prometheus/answer.ts";
import { createAgent, postForm } from "../src/sources/prometheus/http.ts";
import { QueryThread } from "../src/sources/prometheus/query-thread.ts";

const { values: args } = parseArgs({
  options: { queries: { type: "string", default: "20" } },
});
const QUERIES = Math.max(1, Math.min(200, Number(args.queries)));

/** Answers of a realistic shape: one series per pod, with the labels a vLLM pod's series carry. */
const ANSWERS = [
  { name: "1,000 series (the most the thread hands over)", series: 1_000 },
  { name: "12,500 series (under the 2 MiB body limit)", series: 12_500 },
] as const;

/** A fake Prometheus on a thread of its own: it answers `?series=N` with N series. */
const SERVER = `
const http = require("node:http");
const { parentPort } = require("node:worker_threads");
const bodies = new Map();
function body(series) {
  if (!bodies.has(series)) {
    const now = Date.now() / 1000;
    const result = Array.from({ length: series }, (_, i) => ({
      metric: { __name__: "vllm:num_requests_waiting", namespace: "tenant-" + (i % 20), pod: "vllm-" + i + "-5d8f7c9b6-x2k9q", model_name: "llama-3-70b" },
      value: [now, String(i % 7)],
    }));
    bodies.set(series, Buffer.from(JSON.stringify({ status: "success", data: { resultType: "vector", result } })));
  }
  return bodies.get(series);
}
const server = http.createServer((req, res) => {
  const series = Number(new URL(req.url, "http://x").searchParams.get("series"));
  req.resume();
  req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(body(series)));
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port));
`;

interface Stall {
  readonly variant: string;
  readonly answer: string;
  readonly bodyMiB: number;
  /** The loop's longest delay, and its 99th percentile, while the queries ran (ms). */
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly outcome: string;
}

async function measure(
  variant: string,
  answer: (typeof ANSWERS)[number],
  /** One query; `bytes` is measured after the window, so that sizing an answer costs it nothing. */
  read: (url: URL) => Promise<{ outcome: string; bytes: () => number }>,
  port: number,
): Promise<Stall> {
  const url = new URL(`http://127.0.0.1:${port}/api/v1/query?series=${answer.series}`);
  await read(url); // warm: the server renders its body once, the thread starts, the code compiles
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let last = { outcome: "", bytes: () => 0 };
  for (let i = 0; i < QUERIES; i++) last = await read(url);
  delay.disable();
  const { outcome } = last;
  return {
    variant,
    answer: answer.name,
    bodyMiB: last.bytes() / 2 ** 20,
    maxMs: delay.max / 1e6,
    p99Ms: delay.percentile(99) / 1e6,
    outcome,
  };
}

function describe(answer: ReturnType<typeof parseAnswer>): string {
  return answer.ok ? `${answer.samples.length} samples` : `${answer.failure.kind}`;
}

async function main(): Promise<void> {
  const server = new Worker(SERVER, { eval: true });
  const port = await new Promise<number>((resolve) => server.once("message", resolve));
  const never = new AbortController().signal;
  const stalls: Stall[] = [];
  for (const answer of ANSWERS) {
    const agent = createAgent(new URL(`http://127.0.0.1:${port}`), undefined);
    stalls.push(
      await measure(
        "on the event loop",
        answer,
        async (url) => {
          const response = await postForm(url, new URLSearchParams({ query: "q" }), {}, agent, never);
          const parsed = parseAnswer(response.status, response.text, undefined, "q");
          return { outcome: describe(parsed), bytes: () => Buffer.byteLength(response.text) };
        },
        port,
      ),
    );
    agent.destroy();
    const thread = new QueryThread(
      new URL(`http://127.0.0.1:${port}/api/v1/query?series=${answer.series}`),
      undefined,
    );
    thread.start();
    stalls.push(
      await measure(
        "on the query thread",
        answer,
        async () => {
          const parsed = await thread.query({ expr: "q", timeoutMs: 10_000, what: "q" }, {}, never);
          return { outcome: describe(parsed), bytes: () => Buffer.byteLength(JSON.stringify(parsed)) };
        },
        port,
      ),
    );
    thread.close();
  }
  await server.terminate();

  const lines = [
    `${QUERIES} queries in a row per answer and variant, after one unmeasured; the event loop's delay sampled every 1 ms (monitorEventLoopDelay); the answers served from a thread of their own on 127.0.0.1`,
    "",
    "| answer | read | what the loop received | loop's longest delay ms | loop's p99 delay ms |",
    "|---|---|---|---|---|",
  ];
  for (const [index, stall] of stalls.entries()) {
    const received =
      index % 2 === 0
        ? `${stall.bodyMiB.toFixed(2)} MiB of body, then ${stall.outcome}`
        : `${stall.bodyMiB.toFixed(2)} MiB as samples: ${stall.outcome}`;
    lines.push(
      `| ${stall.answer} | ${stall.variant} | ${received} | ${stall.maxMs.toFixed(1)} | ${stall.p99Ms.toFixed(1)} |`,
    );
  }
  lines.push("");
  for (let i = 0; i < stalls.length; i += 2) {
    const [loop, thread] = [stalls[i]!, stalls[i + 1]!];
    lines.push(
      `- ${loop.answer}: the longest delay on the query thread is ×${(thread.maxMs / loop.maxMs).toFixed(2)} the one on the event loop`,
    );
  }
  const markdown = lines.join("\n");
  process.stderr.write(`${markdown}\n`);
  const written = writeGeneratedBlock("docs/sources.md", "large-answers", markdown, {
    command: "npm run bench:answers",
    inputs: ["src/sources/prometheus", "bench/large-answers.ts"],
  });
  process.stderr.write(`docs/sources.md: large-answers ${written ? "updated" : "already current"}\n`);
  process.stdout.write(`${JSON.stringify({ queries: QUERIES, stalls })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
