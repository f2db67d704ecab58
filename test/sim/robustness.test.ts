import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type RobustnessFigures,
  robustnessArgs,
  robustnessMarkdown,
  robustnessUnits,
  runRobustness,
} from "../../bench/robustness.ts";
import { runCli } from "../support/cli.ts";
import { azureTraceCsv } from "./fixtures.ts";

const NASA_FLAGS = ["--tz", "America/New_York", "--from", "1995-07-06 00:00", "--until", "1995-07-20 00:00"];

describe("the robustness bench's units", () => {
  const units = robustnessUnits([
    { file: "azure_llm_2023_conv_1h.csv", flags: [] },
    { file: "nasa_http_1995_requests_per_minute.csv", flags: NASA_FLAGS },
    { file: "servegen_language_mmid_14d.csv", flags: ["--peak-replicas", "6"] },
  ]);
  const of = (trace: string) => units.filter((u) => u.trace === trace);

  it("add each condition's flags to the trace's own", () => {
    for (const trace of ["azure_llm_2023_conv_1h", "nasa_http_1995_requests_per_minute"])
      expect(
        of(trace)
          .slice(0, 3)
          .map((u) => u.condition),
      ).toEqual(["capacity ×0.5", "capacity ×2", "Service Bus front end"]);
    expect(of("servegen_language_mmid_14d").map((u) => u.flags)).toEqual([
      ["--peak-replicas", "6", "--capacity-error", "0.5"],
      ["--peak-replicas", "6", "--capacity-error", "2"],
      ["--peak-replicas", "6", "--front-end", "queue"],
      ["--peak-replicas", "6", "--metadata", "leadTimeSeconds=240"],
      ["--peak-replicas", "6", "--metadata", "leadTimeSeconds=900"],
      ["--peak-replicas", "6", "--provision-minutes", "12-15"],
    ]);
    // A wrong lead time only where a daily season gives the forecast something to look ahead from.
    expect(of("azure_llm_2023_conv_1h").some((u) => u.condition.startsWith("leadTimeSeconds"))).toBe(false);
    expect(
      of("nasa_http_1995_requests_per_minute")
        .filter((u) => u.condition.endsWith(", measured"))
        .map((u) => u.flags.slice(-2)),
    ).toEqual([
      ["--metadata", "leadTimeSeconds=240"],
      ["--metadata", "leadTimeSeconds=900"],
      ["--provision-minutes", "12-15"],
    ]);
    expect(of("azure_llm_2023_conv_1h").at(-1)?.flags).toEqual(["--model-profile", "llama-3.1-70b-tp4-a100"]);
  });

  it("replay NASA's held-out fortnights with its other flags unchanged", () => {
    const heldOut = of("nasa_http_1995_requests_per_minute").filter((u) =>
      u.condition.startsWith("held out"),
    );
    expect(heldOut.map((u) => u.flags)).toEqual([
      ["--tz", "America/New_York", "--from", "1995-08-01 00:00", "--until", "1995-08-15 00:00"],
      ["--tz", "America/New_York", "--from", "1995-08-15 00:00", "--until", "1995-08-29 00:00"],
    ]);
    expect(() => robustnessUnits([{ file: "nasa_http_1995_requests_per_minute.csv", flags: [] }])).toThrow(
      /no --from/,
    );
  });

  it("give the verdict from the unrounded share", () => {
    const unit = units[0] as (typeof units)[number];
    const figures = (withinSlaFraction: number): RobustnessFigures => ({
      requests: 100_000,
      withinSlaFraction,
      gpuHours: 12.34,
      oracleRatio: 1.5,
      worstWaitSeconds: 61.4,
      unservedRequests: 0,
    });
    const table = robustnessMarkdown(
      [
        { unit, figures: figures(0.999) },
        { unit, figures: figures(0.99899) },
      ],
      0.999,
    ).split("\n");
    expect(table[2]).toBe(
      "| azure_llm_2023_conv_1h | capacity ×0.5 | 99.90 % | 12.3 | 1.50 | 61 s | ≥ 99.9 % |",
    );
    expect(table[3]).toBe(
      "| azure_llm_2023_conv_1h | capacity ×0.5 | 99.8 % | 12.3 | 1.50 | 61 s | misses the SLA |",
    );
  });
});

describe("a robustness unit run apart", () => {
  const dir = mkdtempSync(join(tmpdir(), "robustness-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "step.csv");
  // A step from 60 to 400 requests a minute: enough to need several replicas and a scale-up.
  writeFileSync(
    file,
    azureTraceCsv(30, (m) => (m < 10 ? 60 : 400), { context: 1000, generated: 200 }),
  );

  it.each([
    ["a wrong capacity", ["--capacity-error", "0.5"]],
    [
      "the Service Bus front end on another model",
      ["--front-end", "queue", "--model-profile", "llama-3.1-70b-tp4-a100"],
    ],
  ])(
    "equals the same run through the CLI: %s",
    (_, flags) => {
      const apart = runRobustness(file, flags);
      const cli = runCli(["simulate", ...robustnessArgs(file, flags), "--json"]);
      expect(cli.stderr).toBe("");
      expect(cli.status).toBe(0);
      const json = JSON.parse(cli.stdout) as {
        policies: {
          name: string;
          requests: number;
          withinSlaFraction: number;
          gpuHours: number;
          oracleRatio: number;
          worstQueueWaitSeconds: number;
          unservedRequests: number;
        }[];
      };
      const ours = json.policies.find((p) => p.name === "ours");
      // The JSON rounds: 6 decimals for the share, 3 for GPU-hours and the ratio, 1 for the wait.
      expect(ours).toEqual(
        expect.objectContaining({
          requests: apart.requests,
          withinSlaFraction: Math.round(apart.withinSlaFraction * 1e6) / 1e6,
          gpuHours: Math.round(apart.gpuHours * 1e3) / 1e3,
          oracleRatio: Math.round(apart.oracleRatio * 1e3) / 1e3,
          worstQueueWaitSeconds: Math.round(apart.worstWaitSeconds * 10) / 10,
          unservedRequests: apart.unservedRequests,
        }),
      );
    },
    120_000,
  );

  it("applies the condition: a different capacity guess costs differently", () => {
    const half = runRobustness(file, ["--capacity-error", "0.5"]);
    const double = runRobustness(file, ["--capacity-error", "2"]);
    expect(half.requests).toBe(double.requests);
    expect(half.gpuHours).toBeGreaterThan(double.gpuHours);
  }, 120_000);
});
