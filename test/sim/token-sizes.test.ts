import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { scaleForPeakReplicas } from "../../src/sim/arrivals.ts";
import { parseSimulateArgs } from "../../src/sim/options.ts";
import { Rng } from "../../src/sim/rng.ts";
import {
  AZURE_CONVERSATION,
  meanOf,
  SERVEGEN_REASON,
  sampleContextTokens,
  sampleGeneratedTokens,
  TOKEN_SIZE_DISTRIBUTIONS,
} from "../../src/sim/token-sizes.ts";
import { readTrace } from "../../src/sim/trace.ts";
import { ROUND_REPLICA } from "./fixtures.ts";

describe("token-size distributions", () => {
  it("each holds 41 non-decreasing quantiles of positive token counts", () => {
    for (const distribution of Object.values(TOKEN_SIZE_DISTRIBUTIONS))
      for (const quantiles of [distribution.contextQuantiles, distribution.generatedQuantiles]) {
        expect(quantiles).toHaveLength(41);
        expect(quantiles[0]).toBeGreaterThan(0);
        for (let i = 1; i < quantiles.length; i++)
          expect(quantiles[i] as number).toBeGreaterThanOrEqual(quantiles[i - 1] as number);
      }
  });

  it("reason keeps ServeGen R1's day means: 1,268 prompt and 1,527 generated tokens, within 2 %", () => {
    // The request-weighted means that scripts/servegen-token-sizes.ts computes from ServeGen's pmfs.
    expect(meanOf(SERVEGEN_REASON.contextQuantiles)).toBeGreaterThan(1268 * 0.98);
    expect(meanOf(SERVEGEN_REASON.contextQuantiles)).toBeLessThan(1268 * 1.02);
    expect(meanOf(SERVEGEN_REASON.generatedQuantiles)).toBeGreaterThan(1527 * 0.98);
    expect(meanOf(SERVEGEN_REASON.generatedQuantiles)).toBeLessThan(1527 * 1.02);
    // Decode-heavy: answers are 7x the conversation trace's, prompts about the same.
    expect(meanOf(SERVEGEN_REASON.generatedQuantiles)).toBeGreaterThan(
      6 * meanOf(AZURE_CONVERSATION.generatedQuantiles),
    );
  });

  it("conv and code keep their Azure traces' means within 2 % (the end quantiles keep their slices' means)", () => {
    for (const [name, file] of [
      ["conv", "azure_llm_2023_conv_1h.csv"],
      ["code", "azure_llm_2023_code_1h.csv"],
    ] as const) {
      const rows = readFileSync(new URL(`../../data/traces/${file}`, import.meta.url), "utf8")
        .trim()
        .split("\n")
        .slice(1);
      const mean = (column: number) =>
        rows.reduce((sum, row) => sum + Number(row.split(",")[column]), 0) / rows.length;
      const distribution = TOKEN_SIZE_DISTRIBUTIONS[name];
      if (!distribution) throw new Error(`no ${name}`);
      expect(Math.abs(meanOf(distribution.contextQuantiles) / mean(1) - 1), `${name} prompt`).toBeLessThan(
        0.02,
      );
      expect(Math.abs(meanOf(distribution.generatedQuantiles) / mean(2) - 1), `${name} answer`).toBeLessThan(
        0.02,
      );
    }
  });

  it("sampling draws the distribution's mean", () => {
    const rng = new Rng(7);
    let context = 0;
    let generated = 0;
    const draws = 200_000;
    for (let i = 0; i < draws; i++) {
      context += sampleContextTokens(SERVEGEN_REASON, rng);
      generated += sampleGeneratedTokens(SERVEGEN_REASON, rng);
    }
    expect(context / draws / meanOf(SERVEGEN_REASON.contextQuantiles)).toBeCloseTo(1, 1);
    expect(generated / draws / meanOf(SERVEGEN_REASON.generatedQuantiles)).toBeCloseTo(1, 1);
  });
});

describe("--token-sizes", () => {
  it("accepts reason and refuses an unknown name with the list", () => {
    expect(parseSimulateArgs(["--trace", "x.csv", "--token-sizes", "reason"]).tokenSizes).toBe(
      SERVEGEN_REASON,
    );
    expect(parseSimulateArgs(["--trace", "x.csv"]).tokenSizes).toBe(AZURE_CONVERSATION);
    expect(() => parseSimulateArgs(["--trace", "x.csv", "--token-sizes", "r1"])).toThrow(
      '--token-sizes must be one of conv, code, reason, got "r1"',
    );
  });

  it("--peak-replicas scales a count trace by the chosen sizes' work per request", () => {
    const trace = readTrace("timestamp,requests\n2025-03-02T16:00:00Z,600\n2025-03-02T16:10:00Z,1200\n", {
      name: "windows",
      zone: "UTC",
    });
    const work = (d: typeof SERVEGEN_REASON) =>
      meanOf(d.contextQuantiles) / ROUND_REPLICA.prefillTokensPerSecond +
      meanOf(d.generatedQuantiles) / ROUND_REPLICA.decodeTokensPerSecond;
    const conv = scaleForPeakReplicas(trace, ROUND_REPLICA, AZURE_CONVERSATION, 6);
    const reason = scaleForPeakReplicas(trace, ROUND_REPLICA, SERVEGEN_REASON, 6);
    // Busiest 10 minutes: 120 requests a minute; 6 replicas = 360 GPU-seconds a minute.
    expect(reason).toBeCloseTo(360 / (120 * work(SERVEGEN_REASON)), 9);
    expect(conv / reason).toBeCloseTo(work(SERVEGEN_REASON) / work(AZURE_CONVERSATION), 9);
    expect(reason).toBeLessThan(conv / 3);
  });
});
