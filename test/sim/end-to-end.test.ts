import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "../../src/commands/simulate.ts";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { runTrace } from "../../src/sim/run-trace.ts";
import { azureTraceCsv } from "./fixtures.ts";

/** The shipped traces (data/traces, with their provenance in its README). */
const TRACES = fileURLToPath(new URL("../../data/traces/", import.meta.url));

function shippedTrace(name: string): string {
  const file = join(TRACES, name);
  if (!existsSync(file)) throw new Error(`the shipped trace ${file} is missing from data/traces`);
  return file;
}

function simulateFile(file: string, flags: string[]) {
  const options = parseSimulateArgs(["--trace", file, "--no-progress", ...flags]);
  return runTrace(options, readFileSync(file, "utf8"), undefined).result;
}

function policy(result: ReturnType<typeof simulateFile>, name: string) {
  const found = result.policies.find((p) => p.name === name);
  if (!found) throw new Error(`no result for ${name}`);
  return found;
}

describe("simulate, end to end on the shipped traces", () => {
  it("replays the Azure conversation hour behind the queue: every request counted, none billed below the work itself", () => {
    const result = simulateFile(shippedTrace("azure_llm_2023_conv_1h.csv"), [
      "--front-end",
      "queue",
      "--policy",
      "ours",
      "--policy",
      "keda-queue",
      "--policy",
      "keda-multi",
    ]);
    // The Prometheus configuration serves vLLM over HTTP: left out behind the queue, with the reason.
    expect(result.omittedPolicies.map((p) => p.name)).toEqual(["keda-multi"]);
    expect(result.omittedPolicies[0]?.reason).toMatch(/HTTP/);
    const ours = policy(result, "ours");
    const queue = policy(result, "keda-queue");
    expect(ours.requests).toBe(19366);
    expect(queue.requests).toBe(19366);
    expect(ours.withinSlaFraction).toBeGreaterThan(0.99);
    // Whole GPUs held through start-up lags: no policy can cost less than the work itself.
    for (const p of result.policies) expect(p.workBoundRatio).toBeGreaterThan(1);
  });

  it("is deterministic for a seed, and the seed matters", () => {
    const file = shippedTrace("azure_llm_2023_code_1h.csv");
    // hpa-gpu adds nodes within the hour, so the seed's start-up delays show in its results.
    const flags = ["--front-end", "queue", "--policy", "hpa-gpu", "--peak-replicas", "6"];
    const a = policy(simulateFile(file, flags), "hpa-gpu");
    const b = policy(simulateFile(file, flags), "hpa-gpu");
    const c = policy(simulateFile(file, [...flags, "--seed", "2"]), "hpa-gpu");
    expect(b.withinSlaFraction).toBe(a.withinSlaFraction);
    expect(b.gpuHours).toBe(a.gpuHours);
    expect(b.timeline).toEqual(a.timeline);
    expect(c.gpuHours === a.gpuHours && c.withinSlaFraction === a.withinSlaFraction).toBe(false);
  });

  it("replays two weeks of the NASA count trace on its EDT clock, the no-data minutes unbilled", () => {
    const file = shippedTrace("nasa_http_1995_requests_per_minute.csv");
    const full = simulateFile(file, [
      "--time-column",
      "minute_start_local_edt",
      "--tz",
      "America/New_York",
      "--peak-replicas",
      "6",
      "--from",
      "1995-07-25 00:00",
      "--until",
      "1995-08-08 00:00",
      "--policy",
      "always-on",
      "--policy",
      "hpa-gpu",
    ]);
    const alwaysOn = policy(full, "always-on");
    // 14 days minus the 7,634 no-data minutes (the log break and Hurricane Erin), 8 GPUs all the
    // time, plus the few seconds the last requests take to finish after the trace ends.
    const billedMinutes = 20_160 - 7_634;
    expect(alwaysOn.gpuHours).toBeGreaterThanOrEqual((billedMinutes / 60) * 8);
    expect(alwaysOn.gpuHours).toBeLessThan((billedMinutes / 60) * 8 + 0.1);
    expect(alwaysOn.withinSlaFraction).toBe(1);
    const hpa = policy(full, "hpa-gpu");
    expect(hpa.gpuHours).toBeLessThan(alwaysOn.gpuHours);
    expect(hpa.requests).toBe(alwaysOn.requests);
    // The clairvoyant oracle keeps the SLA over two weeks for less than either.
    const oracle = policy(full, "oracle");
    expect(oracle.withinSlaFraction).toBeGreaterThanOrEqual(0.999);
    expect(oracle.requests).toBe(alwaysOn.requests);
    expect(oracle.gpuHours).toBeLessThan(hpa.gpuHours);
  }, 300_000);
});

describe("the simulate command", () => {
  const dir = mkdtempSync(join(tmpdir(), "sim-"));
  afterEach(() => vi.restoreAllMocks());

  function capture(): { out: () => string; err: () => string } {
    let out = "";
    let err = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    return { out: () => out, err: () => err };
  }

  it("prints stable JSON fields and writes an HTML report with one chart per policy", async () => {
    const trace = join(dir, "burst.csv");
    // 20 quiet minutes, a 10-minute burst, 20 quiet minutes.
    writeFileSync(
      trace,
      azureTraceCsv(50, (m) => (m >= 20 && m < 30 ? 120 : 6), { context: 1000, generated: 200 }),
    );
    const report = join(dir, "report.html");
    const io = capture();
    const code = await run([
      "--trace",
      trace,
      "--json",
      "--policy",
      "ours",
      "--policy",
      "always-on",
      "--report",
      report,
    ]);
    vi.restoreAllMocks();
    expect(code, io.err()).toBe(0);
    const json = JSON.parse(io.out()) as {
      workBoundGpuHours: number;
      oracleGpuHours: number;
      policies: Record<string, unknown>[];
    };
    expect(json.workBoundGpuHours).toBeGreaterThan(0);
    expect(json.oracleGpuHours).toBeGreaterThan(json.workBoundGpuHours);
    // The clairvoyant reference is in every run, after the policies asked for.
    expect(json.policies.map((p) => p.name)).toEqual(["ours", "always-on", "oracle", "oracle-ca"]);
    for (const p of json.policies)
      for (const field of [
        "name",
        "requests",
        "withinSlaFraction",
        "ttftP95Seconds",
        "gpuHours",
        "workBoundRatio",
        "oracleRatio",
        "scaleEvents",
        "coldStarts",
      ])
        expect(p, field).toHaveProperty(field);
    const html = readFileSync(report, "utf8");
    // One chart per row (two policies, two oracle rows) and the SLA-vs-GPU-hours frontier.
    expect(html.match(/<svg /g)?.length).toBe(5);
    expect(html).toContain("always-on");
  });

  it("writes a report directory (page + JSON with timelines) and a stacked SVG", async () => {
    const trace = join(dir, "steady.csv");
    writeFileSync(
      trace,
      azureTraceCsv(30, () => 60, { context: 1000, generated: 200 }),
    );
    const io = capture();
    expect(await run(["--trace", trace, "--policy", "hpa-gpu", "--report", join(dir, "out")])).toBe(0);
    expect(
      await run([
        "--trace",
        trace,
        "--front-end",
        "queue",
        "--policy",
        "hpa-gpu",
        "--policy",
        "keda-queue",
        "--report",
        join(dir, "c.svg"),
      ]),
    ).toBe(0);
    vi.restoreAllMocks();
    expect(io.out()).toContain("hpa-gpu");
    const json = JSON.parse(readFileSync(join(dir, "out", "result.json"), "utf8")) as {
      policies: { timeline: { at: string; readyReplicas: number }[] }[];
    };
    expect(json.policies[0]?.timeline.length).toBe(30);
    expect(readFileSync(join(dir, "out", "index.html"), "utf8")).toContain("<svg ");
    const svg = readFileSync(join(dir, "c.svg"), "utf8");
    expect(svg.startsWith("<svg ")).toBe(true);
    // The outer document, then one chart per row: two policies and the two oracle rows.
    expect(svg.match(/<svg /g)?.length).toBe(5);
  });

  it("explains bad flags and exits 2", async () => {
    const io = capture();
    expect(await run(["--trace", "x.csv", "--scale", "2", "--peak-replicas", "3"])).toBe(2);
    expect(await run(["--trace", "x.csv", "--policy", "karpenter"])).toBe(2);
    expect(await run(["--trace", "x.csv", "--tz", "Nowhere/Land"])).toBe(2);
    expect(await run(["--trace", join(dir, "missing.csv")])).toBe(2);
    const trace = join(dir, "tiny.csv");
    writeFileSync(
      trace,
      azureTraceCsv(5, () => 10),
    );
    expect(await run(["--trace", trace, "--tick-seconds", "4"])).toBe(1);
    vi.restoreAllMocks();
    expect(io.err()).toContain("--scale and --peak-replicas are exclusive");
    expect(io.err()).toContain('--policy "karpenter" is unknown');
    expect(io.err()).toContain("Nowhere/Land");
    expect(io.err()).toContain("cannot read the trace");
    expect(io.err()).toContain("--ca-scan-seconds must be a positive multiple of --tick-seconds (4)");
  });
});
