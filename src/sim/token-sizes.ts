import type { Rng } from "./rng.ts";

/**
 * Token-size distributions for count traces, as 41 quantiles (every 2.5 %) of the Azure LLM
 * inference traces (2023-11-16, 1 h each) and of ServeGen's DeepSeek-R1 day (see
 * data/traces/README.md). Sampling
 * interpolates between quantiles, which keeps the traces' lumpy shapes (the conversation
 * trace's clusters around 400 and 1,000 context tokens) that a fitted log-normal would smooth out.
 * The two ends are not the minimum and maximum but placed so that the 2.5 % slice at each end keeps
 * the trace's mean for that slice: a straight line from the 97.5th percentile to the longest prompt
 * (14,050 tokens) made the conversation's mean prompt 1,269 instead of the trace's 1,155, and the
 * code trace's mean answer 46 tokens instead of 28.
 */
export interface TokenSizeDistribution {
  readonly name: string;
  readonly contextQuantiles: readonly number[];
  readonly generatedQuantiles: readonly number[];
}

export const AZURE_CONVERSATION: TokenSizeDistribution = {
  name: "conv",
  contextQuantiles: [
    1, 120, 181, 200, 207, 235, 372, 379, 387, 393, 396, 400, 403, 407, 414, 428, 703, 922, 984, 1005, 1020,
    1034, 1045, 1058, 1071, 1083, 1097, 1112, 1130, 1153, 1189, 1277, 1315, 1434, 1876, 2309, 2735, 4075,
    4083, 4092, 4860,
  ],
  generatedQuantiles: [
    8, 28, 41, 48, 54, 60, 67, 72, 77, 82, 85, 88, 91, 93, 96, 99, 103, 108, 113, 120, 129, 139, 151, 162,
    177, 195, 217, 373, 384, 391, 395, 396, 400, 406, 411, 416, 424, 430, 451, 522, 716,
  ],
};

export const AZURE_CODE: TokenSizeDistribution = {
  name: "code",
  contextQuantiles: [
    2, 44, 75, 102, 147, 185, 232, 299, 386, 484, 578, 679, 770, 863, 938, 1016, 1075, 1153, 1261, 1370, 1469,
    1585, 1690, 1798, 1909, 2048, 2164, 2305, 2433, 2578, 2745, 2942, 3192, 3538, 3919, 4434, 5186, 6097,
    7302, 7435, 7437,
  ],
  generatedQuantiles: [
    6, 6, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 16, 16, 18, 19, 20, 22,
    24, 26, 29, 33, 39, 46, 55, 69, 90, 145, 457,
  ],
};

/**
 * ServeGen's `reason/deepseek-r1` (alibaba/ServeGen, Apache-2.0; Xiang et al., NSDI 2026): the day's
 * input and output token pmfs of all 73 clients, each weighted by its requests, the same day that
 * data/traces/servegen_reason_deepseek_r1_1d.csv sums. Recomputed by
 * scripts/servegen-token-sizes.ts. Means 1,268 prompt and 1,527 generated tokens (7x the
 * conversation trace's answers; median 792, p97.5 8,369, capped at 32,768). Unlike the Azure ones,
 * the two ends are not the minimum and maximum but placed so that the end slices keep the data's
 * mean: the top 2.5 % of prompts run from 14,144 to 57,284 tokens, and a straight line to the
 * maximum would inflate the mean prompt by 28 %. The source publishes only marginals per client and
 * 6 hours, so nothing says whether long prompts get long answers (the simulator draws them
 * independently; across clients the two means hardly correlate, -0.09).
 */
export const SERVEGEN_REASON: TokenSizeDistribution = {
  name: "reason",
  contextQuantiles: [
    6, 11, 13, 15, 18, 22, 26, 27, 29, 34, 41, 49, 57, 65, 76, 91, 113, 147, 172, 204, 208, 212, 222, 260,
    266, 279, 349, 377, 406, 431, 482, 580, 748, 911, 1165, 1305, 2092, 3858, 6714, 14144, 30796,
  ],
  generatedQuantiles: [
    105, 182, 225, 258, 287, 315, 341, 365, 387, 407, 427, 448, 470, 493, 519, 548, 582, 621, 668, 725, 792,
    865, 944, 1024, 1104, 1178, 1244, 1307, 1367, 1430, 1499, 1572, 1680, 1853, 2196, 2751, 3432, 4310, 5701,
    8369, 16974,
  ],
};

export const TOKEN_SIZE_DISTRIBUTIONS: Readonly<Record<string, TokenSizeDistribution>> = {
  conv: AZURE_CONVERSATION,
  code: AZURE_CODE,
  reason: SERVEGEN_REASON,
};

function sampleQuantiles(quantiles: readonly number[], u: number): number {
  const position = u * (quantiles.length - 1);
  const below = Math.floor(position);
  const low = quantiles[below] as number;
  const high = quantiles[Math.min(below + 1, quantiles.length - 1)] as number;
  return low + (high - low) * (position - below);
}

export function sampleContextTokens(distribution: TokenSizeDistribution, rng: Rng): number {
  return sampleQuantiles(distribution.contextQuantiles, rng.next());
}

export function sampleGeneratedTokens(distribution: TokenSizeDistribution, rng: Rng): number {
  return sampleQuantiles(distribution.generatedQuantiles, rng.next());
}

/** The mean of the interpolated distribution (trapezoids between quantiles). */
export function meanOf(quantiles: readonly number[]): number {
  let sum = 0;
  for (let i = 1; i < quantiles.length; i++)
    sum += ((quantiles[i - 1] as number) + (quantiles[i] as number)) / 2;
  return sum / (quantiles.length - 1);
}
