/** Synthetic traces built in the tests (the real ones are in data/traces). */
import { DEFAULT_MODEL, type ReplicaModel, type SimModel } from "../../src/sim/model.ts";

/** An Azure-format trace: `perMinute(minute)` requests in each minute, spread evenly. */
export function azureTraceCsv(
  minutes: number,
  perMinute: (minute: number) => number,
  tokens: { context: number; generated: number } = { context: 4000, generated: 1000 },
  startIso = "2023-11-16 09:00:00",
): string {
  const start = Date.parse(`${startIso.replace(" ", "T")}Z`);
  const lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"];
  for (let m = 0; m < minutes; m++) {
    const n = perMinute(m);
    for (let i = 0; i < n; i++) {
      const at = new Date(start + m * 60_000 + Math.floor(((i + 0.5) * 60_000) / n));
      const stamp = at.toISOString().replace("T", " ").replace("Z", "0000");
      lines.push(`${stamp},${tokens.context},${tokens.generated}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** A count trace in the NASA layout (local time, UTC, requests, valid), CRLF line ends. */
export function countTraceCsv(
  rows: { local: string; utc: string; requests: number; valid: 0 | 1 }[],
): string {
  return `minute_start_local_edt,minute_start_utc,requests,valid\r\n${rows
    .map((r) => `${r.local},${r.utc},${r.requests},${r.valid}`)
    .join("\r\n")}\r\n`;
}

/**
 * A replica with round rates (4,000 prompt and 1,000 generated tokens a second, 32 sequences), so
 * that a test's expectations can be worked out by hand: 4,000 + 1,000 tokens = 2 GPU-seconds.
 */
export const ROUND_REPLICA: ReplicaModel = {
  prefillTokensPerSecond: 4000,
  decodeTokensPerSecond: 1000,
  decodeTokensPerSecondPerSequence: 40,
  maxNumSeqs: 32,
  kvCacheTokens: 200_000,
  consumerPrefetch: 8,
};

export const ROUND_MODEL: SimModel = { ...DEFAULT_MODEL, replica: ROUND_REPLICA };
