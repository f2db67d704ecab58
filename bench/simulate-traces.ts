/**
 * `npm run bench`: the shipped traces (data/traces) through every policy, printed as the
 * comparison table plus ratios of ours to each baseline and the simulator's own speed. A
 * benchmark, not a test: it asserts nothing and its wall-clock figures vary by machine. The
 * tables (not the wall-clock figures) are also written into docs/simulator.md as a generated block,
 * stamped with a hash of what they were computed from.
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { writeGeneratedBlock } from "../scripts/docs-blocks.ts";
import { parseSimulateArgs } from "../src/sim/options.ts";
import { formatTable } from "../src/sim/report.ts";
import { runTrace } from "../src/sim/run-trace.ts";

const TRACES = fileURLToPath(new URL("../data/traces/", import.meta.url));

const RUNS: { title: string; file: string; flags: string[] }[] = [
  {
    title: "Azure LLM conversation trace, 1 h, as recorded",
    file: "azure_llm_2023_conv_1h.csv",
    flags: [],
  },
  {
    title: "Azure LLM code trace, 1 h, as recorded (on/off bursts)",
    file: "azure_llm_2023_code_1h.csv",
    flags: [],
  },
  {
    title: "NASA HTTP 1995, 62 days per minute, EDT, busiest minute = 6 replicas",
    file: "nasa_http_1995_requests_per_minute.csv",
    flags: ["--time-column", "minute_start_local_edt", "--tz", "America/New_York", "--peak-replicas", "6"],
  },
];

/** Everything the results depend on: a change to any of these makes the doc's block stale. */
const RESULT_INPUTS = [
  "src/sim",
  "src/policy",
  "src/config",
  "src/readings",
  "data/traces",
  "bench/simulate-traces.ts",
];

function ratio(a: number, b: number): string {
  return b === 0 ? "n/a" : `${(a / b).toFixed(2)}×`;
}

function main(): number {
  if (!existsSync(TRACES)) {
    process.stderr.write(`bench: ${TRACES} is missing; the traces ship in the repository (data/traces)\n`);
    return 1;
  }
  const totalStart = performance.now();
  const sections: string[] = [];
  for (const { title, file, flags } of RUNS) {
    const path = `${TRACES}${file}`;
    const options = parseSimulateArgs(["--trace", path, "--policy", "all", "--no-progress", ...flags]);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const { run, result } = runTrace(options, readFileSync(path, "utf8"), undefined);
    const wall = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const table = formatTable(run, result);
    process.stdout.write(`\n## ${title}\n\n${table}\n\n`);
    const comparisons: string[] = [];
    const ours = result.policies.find((p) => p.name === "ours");
    if (ours) {
      for (const baseline of result.policies) {
        if (baseline.name === "ours") continue;
        comparisons.push(
          `ours vs ${baseline.name.padEnd(17)} SLA kept ${(ours.withinSlaFraction * 100).toFixed(2)} % vs ${(baseline.withinSlaFraction * 100).toFixed(2)} %, ` +
            `TTFT p95 ${ratio(ours.ttftP95Seconds, baseline.ttftP95Seconds)}, GPU-hours ${ratio(ours.gpuHours, baseline.gpuHours)}`,
        );
      }
    }
    process.stdout.write(comparisons.map((line) => `${line}\n`).join(""));
    sections.push(`### ${title}\n\n\`\`\`text\n${table}\n\n${comparisons.join("\n")}\n\`\`\``);
    const speeds = result.policies
      .map((p) => `${p.name} ${Math.round(p.simulatedMinutesPerWallSecond).toLocaleString("en-US")}`)
      .join(", ");
    process.stdout.write(
      `\nsimulated minutes per wall second: ${speeds}\n${result.policies.length} policies over ${Math.round((result.endMs - result.startMs) / 60_000).toLocaleString("en-US")} simulated minutes in ${wall.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU\n`,
    );
  }
  process.stdout.write(`\ntotal ${((performance.now() - totalStart) / 1000).toFixed(1)} s\n`);
  const written = writeGeneratedBlock("docs/simulator.md", "simulator-results", sections.join("\n\n"), {
    command: "npm run bench",
    inputs: RESULT_INPUTS,
  });
  process.stdout.write(`docs/simulator.md: results ${written ? "updated" : "already current"}\n`);
  return 0;
}

process.exitCode = main();
