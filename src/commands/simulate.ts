import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { parseSimulateArgs, SIMULATE_USAGE, type SimulateOptions, UsageError } from "../sim/options.ts";
import { CHART_HEIGHT, formatSweep, formatTable, policySvg, reportHtml, resultJson } from "../sim/report.ts";
import { runTrace, type TraceRun } from "../sim/run-trace.ts";

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

/** A one-line bar on stderr, redrawn in place; only on a terminal. */
function progressBar(policies: readonly string[]): (policy: string, fraction: number) => void {
  let lastDrawn = "";
  return (policy, fraction) => {
    const index = policies.indexOf(policy);
    const overall = (index + fraction) / policies.length;
    const width = 30;
    const filled = Math.round(overall * width);
    const line = `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(overall * 100)).padStart(3)} % ${policy.padEnd(18)}`;
    if (line === lastDrawn) return;
    lastDrawn = line;
    process.stderr.write(line);
    if (overall >= 1) process.stderr.write("\r\x1b[2K");
  };
}

function writeReport(target: string, traceRun: TraceRun, options: SimulateOptions): string[] {
  const { run, result } = traceRun;
  const extension = extname(target).toLowerCase();
  const json = `${JSON.stringify(resultJson(run, result, true, traceRun.sweep), null, 2)}\n`;
  if (extension === ".json") {
    writeFileSync(target, json);
    return [target];
  }
  if (extension === ".html") {
    writeFileSync(
      target,
      reportHtml(run, result, traceRun.sweep, traceRun.sweep?.slaTarget ?? options.slaTarget),
    );
    return [target];
  }
  if (extension === ".svg") {
    // Several policies' charts stacked into one SVG document.
    const charts = result.policies.map((p) => policySvg(p, result, run.zone));
    const height = CHART_HEIGHT;
    const body = charts.map((svg, i) => svg.replace("<svg ", `<svg y="${i * height}" `)).join("\n");
    writeFileSync(
      target,
      `<svg xmlns="http://www.w3.org/2000/svg" width="960" height="${height * charts.length}">\n${body}\n</svg>\n`,
    );
    return [target];
  }
  mkdirSync(target, { recursive: true });
  writeFileSync(
    join(target, "index.html"),
    reportHtml(run, result, traceRun.sweep, traceRun.sweep?.slaTarget ?? options.slaTarget),
  );
  writeFileSync(join(target, "result.json"), json);
  return [join(target, "index.html"), join(target, "result.json")];
}

export async function run(argv: string[]): Promise<number> {
  let options: SimulateOptions;
  try {
    options = parseSimulateArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.message) process.stderr.write(`simulate: ${error.message}\n\n`);
      process.stderr.write(SIMULATE_USAGE);
      return error.message ? 2 : 0;
    }
    throw error;
  }
  try {
    const traceText = readText(options.traceFile, "the trace");
    const configText = options.configFile ? readText(options.configFile, "--config") : undefined;
    const showProgress = options.progress && process.stderr.isTTY === true;
    const traceRun = runTrace(
      options,
      traceText,
      configText,
      showProgress ? progressBar([...options.policies, "oracle"]) : undefined,
      options.progress
        ? (point, done, total) =>
            process.stderr.write(
              `sweep ${String(done).padStart(String(total).length)}/${total}: ${point.policy} ${point.knob}=${point.value} → ${(point.withinSlaFraction * 100).toFixed(2)} % within SLA, ${point.gpuHours.toFixed(1)} GPU-h\n`,
            )
        : undefined,
    );
    if (options.json)
      process.stdout.write(
        `${JSON.stringify(resultJson(traceRun.run, traceRun.result, false, traceRun.sweep), null, 2)}\n`,
      );
    else {
      process.stdout.write(`${formatTable(traceRun.run, traceRun.result)}\n`);
      if (traceRun.sweep)
        process.stdout.write(`\n${formatSweep(traceRun.sweep, traceRun.result.oracleGpuHours)}\n`);
    }
    if (options.report) {
      const written = writeReport(options.report, traceRun, options);
      process.stderr.write(`report: ${written.join(", ")}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`simulate: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
