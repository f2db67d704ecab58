/**
 * One-off: derives the simulator's `reason` token sizes (src/sim/token-sizes.ts) from ServeGen's
 * published data for `reason/deepseek-r1` (alibaba/ServeGen, Apache-2.0), and checks that the same
 * data sums to data/traces/servegen_reason_deepseek_r1_1d.csv.
 *
 *     npx tsx scripts/servegen-token-sizes.ts /path/to/ServeGen   # a checkout or a bare git dir
 *
 * ServeGen's layout: `chunk-N-trace.csv` is client N's day as 144 ten-minute windows (seconds from
 * the day's start, requests/second, then the arrival pattern); `chunk-N-dataset.json` holds, per
 * 6-hour window start, that client's pmfs of `input_tokens` and `output_tokens` as Python dict
 * strings. A ten-minute window uses the latest pmf that starts at or before it (how ServeGen itself
 * pairs them). The day's marginal is every client-window's pmf weighted by its request count; the
 * 41 quantiles (every 2.5 %) are what the simulator interpolates between.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MODEL_DIR = "data/reason/deepseek-r1";
const WINDOW_SECONDS = 600;
const OUR_TRACE = "data/traces/servegen_reason_deepseek_r1_1d.csv";

type Pmf = Map<number, number>;

function reader(root: string): { list(): string[]; read(path: string): string } {
  if (existsSync(join(root, MODEL_DIR)))
    return {
      list: () => execFileSync("ls", [join(root, MODEL_DIR)], { encoding: "utf8" }).split("\n"),
      read: (path) => readFileSync(join(root, path), "utf8"),
    };
  // A bare mirror has no work tree: read the files from its HEAD commit.
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", root, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
  return {
    list: () => git("ls-tree", "--name-only", `HEAD:${MODEL_DIR}`).split("\n"),
    read: (path) => git("show", `HEAD:${path}`),
  };
}

/** `{45: 0.0096, 46: 0.0117}` (a Python dict literal of numbers) as a map. */
function parsePmf(text: string): Pmf {
  const pmf: Pmf = new Map();
  for (const match of text.matchAll(/([-\d.eE+]+)\s*:\s*([-\d.eE+]+)/g))
    pmf.set(Number(match[1]), Number(match[2]));
  return pmf;
}

interface Marginal {
  mass: Map<number, number>;
  total: number;
}

function addWeighted(into: Marginal, pmf: Pmf, weight: number): void {
  for (const [tokens, p] of pmf) into.mass.set(tokens, (into.mass.get(tokens) ?? 0) + p * weight);
  into.total += weight;
}

function meanOfPmf(pmf: Pmf): number {
  let mean = 0;
  for (const [tokens, p] of pmf) mean += tokens * p;
  return mean;
}

/**
 * The smallest value whose cumulative share reaches each 2.5 % step. The two ends are not the
 * minimum and maximum: the simulator draws uniformly between neighbouring quantiles, so a straight
 * line from p97.5 to R1's longest prompt (57,284 tokens) would inflate the mean prompt by 28 %. Each
 * end is instead placed so that its slice's straight line has the data's mean for that slice.
 */
function quantiles41(marginal: Marginal, slices: readonly number[]): number[] {
  const values = [...marginal.mass.entries()].filter(([, m]) => m > 0).sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let cumulative = 0;
  let next = 1;
  for (const [tokens, m] of values) {
    cumulative += m / marginal.total;
    while (next < 40 && cumulative >= next / 40 - 1e-12) {
      out[next] = tokens;
      next++;
    }
  }
  out[0] = Math.max(0, Math.round(2 * (slices[0] ?? 0) - (out[1] ?? 0)));
  out[40] = Math.round(2 * (slices[39] ?? 0) - (out[39] ?? 0));
  return out;
}

/** The mean of each 2.5 % slice of the marginal (an atom on a slice boundary is split). */
function sliceMeans(marginal: Marginal): number[] {
  const values = [...marginal.mass.entries()].filter(([, m]) => m > 0).sort((a, b) => a[0] - b[0]);
  const sums = new Array<number>(40).fill(0);
  let slice = 0;
  let room = 1 / 40;
  for (const [tokens, m] of values) {
    let share = m / marginal.total;
    while (share > 1e-15 && slice < 40) {
      const taken = Math.min(share, room);
      sums[slice] = (sums[slice] ?? 0) + taken * tokens;
      share -= taken;
      room -= taken;
      if (room <= 1e-15) {
        slice++;
        room = 1 / 40;
      }
    }
  }
  return sums.map((sum) => sum * 40);
}

/** The mean of the distribution the simulator samples: linear between quantiles. */
function interpolatedMean(quantiles: readonly number[]): number {
  let sum = 0;
  for (let i = 1; i < quantiles.length; i++) sum += ((quantiles[i - 1] ?? 0) + (quantiles[i] ?? 0)) / 2;
  return sum / (quantiles.length - 1);
}

function meanOfMarginal(marginal: Marginal): number {
  let sum = 0;
  for (const [tokens, m] of marginal.mass) sum += tokens * m;
  return sum / marginal.total;
}

function main(): void {
  const root = process.argv[2];
  if (!root) throw new Error("usage: tsx scripts/servegen-token-sizes.ts <ServeGen checkout or git dir>");
  const source = reader(root);
  const clients = source
    .list()
    .map((name) => /^chunk-(\d+)-trace\.csv$/.exec(name)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort((a, b) => Number(a) - Number(b));

  const input: Marginal = { mass: new Map(), total: 0 };
  const output: Marginal = { mass: new Map(), total: 0 };
  const perWindow = new Map<number, number>();
  // Per client-window means, to see whether long prompts come with long answers across clients.
  const pairs: { weight: number; input: number; output: number }[] = [];
  let withoutPmf = 0;

  for (const id of clients) {
    const dataset = JSON.parse(source.read(`${MODEL_DIR}/chunk-${id}-dataset.json`)) as Record<
      string,
      Record<string, string>
    >;
    const pmfs = Object.entries(dataset)
      .map(([start, fields]) => ({
        start: Number(start),
        input: parsePmf(fields.input_tokens ?? ""),
        output: parsePmf(fields.output_tokens ?? ""),
      }))
      .filter((p) => p.input.size > 0 && p.output.size > 0)
      .sort((a, b) => a.start - b.start);
    const requestsPerPmf = new Map<number, number>();
    for (const line of source.read(`${MODEL_DIR}/chunk-${id}-trace.csv`).trim().split("\n")) {
      const [start, rate] = line.split(",").map(Number) as [number, number];
      const requests = rate * WINDOW_SECONDS;
      perWindow.set(start, (perWindow.get(start) ?? 0) + requests);
      if (!(requests > 0)) continue;
      const pmf = pmfs.findLast((p) => p.start <= start);
      if (!pmf) {
        withoutPmf += requests;
        continue;
      }
      requestsPerPmf.set(pmf.start, (requestsPerPmf.get(pmf.start) ?? 0) + requests);
    }
    for (const pmf of pmfs) {
      const weight = requestsPerPmf.get(pmf.start) ?? 0;
      if (weight === 0) continue;
      addWeighted(input, pmf.input, weight);
      addWeighted(output, pmf.output, weight);
      pairs.push({ weight, input: meanOfPmf(pmf.input), output: meanOfPmf(pmf.output) });
    }
  }

  const ours = existsSync(OUR_TRACE) ? readFileSync(OUR_TRACE, "utf8").trim().split("\n").slice(1) : [];
  const summed = [...perWindow.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => Math.round(r));
  const mismatches = ours.filter((row, i) => Number(row.split(",")[1]) !== summed[i]).length;

  const w = pairs.reduce((s, p) => s + p.weight, 0);
  const mx = pairs.reduce((s, p) => s + p.weight * p.input, 0) / w;
  const my = pairs.reduce((s, p) => s + p.weight * p.output, 0) / w;
  const cov = pairs.reduce((s, p) => s + p.weight * (p.input - mx) * (p.output - my), 0) / w;
  const sx = Math.sqrt(pairs.reduce((s, p) => s + p.weight * (p.input - mx) ** 2, 0) / w);
  const sy = Math.sqrt(pairs.reduce((s, p) => s + p.weight * (p.output - my) ** 2, 0) / w);

  console.log(`clients (chunks): ${clients.length} (${clients[0]}..${clients[clients.length - 1]})`);
  console.log(
    `requests weighted: ${Math.round(input.total)}; in windows without a pmf: ${Math.round(withoutPmf)}`,
  );
  console.log(
    `windows summed: ${summed.length}; rows of ${OUR_TRACE} that differ: ${mismatches} of ${ours.length}`,
  );
  console.log(`input tokens mean ${meanOfMarginal(input).toFixed(1)}`);
  console.log(`output tokens mean ${meanOfMarginal(output).toFixed(1)}`);
  console.log(
    `client-window means, request-weighted correlation input/output: ${(cov / (sx * sy)).toFixed(3)}`,
  );
  for (const [name, marginal] of [
    ["contextQuantiles", input],
    ["generatedQuantiles", output],
  ] as const) {
    const slices = sliceMeans(marginal);
    const q = quantiles41(marginal, slices);
    const values = [...marginal.mass.keys()].filter((k) => (marginal.mass.get(k) ?? 0) > 0);
    console.log(`${name}: [${q.join(", ")}]`);
    console.log(
      `  interpolated mean ${interpolatedMean(q).toFixed(1)}; min ${Math.min(...values)}, max ${Math.max(...values)}`,
    );
  }
}

main();
