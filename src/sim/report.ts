import { DateTime } from "luxon";
import { frontierSvg } from "./frontier.ts";
import type { SimModel } from "./model.ts";
import type { PolicyResult, SimulationResult } from "./runner.ts";
import type { TimelinePoint } from "./stats.ts";
import type { SweepResult } from "./sweep.ts";
import { verdicts } from "./verdict.ts";

/** What the run was about, printed above the table and stored in the JSON. */
export interface RunDescription {
  readonly trace: string;
  readonly format: string;
  readonly zone: string;
  readonly dollarsPerGpuHour: number;
  readonly tickSeconds: number;
  readonly seed: number;
  /** Every model parameter the run used, so a result can be reproduced. */
  readonly model: SimModel;
}

/** The `--json` document: stable field names (documented in the README "simulator" section). */
export function resultJson(
  run: RunDescription,
  result: SimulationResult,
  withTimeline: boolean,
  sweep?: SweepResult,
): unknown {
  return {
    trace: run.trace,
    format: run.format,
    zone: run.zone,
    start: new Date(result.startMs).toISOString(),
    end: new Date(result.endMs).toISOString(),
    requests: result.requests,
    scale: round(result.scale, 6),
    slaSeconds: result.slaSeconds,
    dollarsPerGpuHour: run.dollarsPerGpuHour,
    tickSeconds: run.tickSeconds,
    seed: run.seed,
    workBoundGpuHours: round(result.workBoundGpuHours, 3),
    oracleGpuHours: round(result.oracleGpuHours, 3),
    frontEnd: result.frontEnd,
    omittedPolicies: result.omittedPolicies,
    model: run.model,
    policies: result.policies.map((p) => {
      const { timeline, ...figures } = p;
      return {
        ...figures,
        withinSlaFraction: round(p.withinSlaFraction, 6),
        ttftP50Seconds: round(p.ttftP50Seconds, 3),
        ttftP95Seconds: round(p.ttftP95Seconds, 3),
        ttftP99Seconds: round(p.ttftP99Seconds, 3),
        worstQueueWaitSeconds: round(p.worstQueueWaitSeconds, 1),
        gpuHours: round(p.gpuHours, 3),
        drainGpuHours: round(p.drainGpuHours, 3),
        costDollars: round(p.costDollars, 2),
        workBoundRatio: round(p.workBoundRatio, 3),
        oracleRatio: round(p.oracleRatio, 3),
        wallSeconds: round(p.wallSeconds, 3),
        simulatedMinutesPerWallSecond: Math.round(p.simulatedMinutesPerWallSecond),
        ...(withTimeline
          ? {
              timelineBucketMinutes: result.timelineBucketMinutes,
              timeline: timeline.map((t) => ({
                at: new Date(t.atMs).toISOString(),
                demandReplicas: round(t.demandReplicas, 3),
                readyReplicas: round(t.readyReplicas, 3),
                desiredReplicas: t.desiredReplicas,
                nodes: round(t.nodes, 3),
                queueMax: t.queueMax,
                ttftMaxSeconds: round(t.ttftMaxSeconds, 2),
                slaMisses: round(t.slaMisses, 1),
                floorReplicas: t.floorReplicas,
              })),
            }
          : {}),
      };
    }),
    ...(sweep
      ? {
          slaTarget: sweep.slaTarget,
          sweep: sweep.points.map((p) => ({
            ...p,
            withinSlaFraction: round(p.withinSlaFraction, 6),
            gpuHours: round(p.gpuHours, 3),
            oracleRatio: round(p.oracleRatio, 3),
          })),
          cheapestAtSla: Object.fromEntries(
            Object.entries(sweep.cheapestAtSla).map(([policy, c]) => [
              policy,
              c && { ...c, gpuHours: round(c.gpuHours, 3), withinSlaFraction: round(c.withinSlaFraction, 6) },
            ]),
          ),
        }
      : {}),
  };
}

/**
 * The sweep as text: per policy, each value's SLA share and GPU-hours, then the cheapest setting
 * that reaches the target (or none), against the oracle.
 */
export function formatSweep(sweep: SweepResult, oracleGpuHours: number): string {
  const lines = [
    `Sweep: the cheapest setting of each policy with ≥ ${percent(sweep.slaTarget)} of requests within the SLA (oracle ${oracleGpuHours.toFixed(1)} GPU-h).`,
    "",
  ];
  const policies = [...new Set(sweep.points.map((p) => p.policy))];
  for (const policy of policies) {
    const points = sweep.points.filter((p) => p.policy === policy);
    const knob = points[0]?.knob ?? "";
    const cells = points.map(
      (p) => `${p.value}: ${percent(p.withinSlaFraction)} ${p.gpuHours.toFixed(1)} GPU-h`,
    );
    const best = sweep.cheapestAtSla[policy];
    lines.push(
      `${policy} (${knob}) — ${best ? `cheapest at target: ${knob} ${best.value}, ${best.gpuHours.toFixed(1)} GPU-h (${(best.gpuHours / oracleGpuHours).toFixed(2)}× oracle), ${percent(best.withinSlaFraction)}` : "no setting reaches the target"}`,
      `  ${cells.join(" · ")}`,
    );
  }
  return lines.join("\n");
}

function round(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function seconds(value: number): string {
  if (value >= 3600) return `${(value / 3600).toFixed(1)} h`;
  if (value >= 100) return `${Math.round(value)} s`;
  return `${value.toFixed(1)} s`;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction >= 0.9995 && fraction < 1 ? 2 : 1)} %`;
}

const COLUMNS = [
  "policy",
  "requests",
  "within SLA",
  "TTFT p50",
  "p95",
  "p99",
  "worst wait",
  "GPU-h",
  "drain",
  "cost",
  "unserved",
  "× oracle",
  "× work",
  "scale ev.",
  "cold starts",
  "peak repl.",
  "peak nodes",
] as const;

export function tableRows(result: SimulationResult): string[][] {
  return result.policies.map((p) => [
    p.name,
    String(p.requests),
    percent(p.withinSlaFraction),
    seconds(p.ttftP50Seconds),
    seconds(p.ttftP95Seconds),
    seconds(p.ttftP99Seconds),
    seconds(p.worstQueueWaitSeconds),
    p.gpuHours.toFixed(1),
    p.drainGpuHours.toFixed(1),
    `$${p.costDollars.toFixed(0)}`,
    String(p.unservedRequests),
    p.oracleRatio.toFixed(2),
    p.workBoundRatio.toFixed(2),
    String(p.scaleEvents),
    String(p.coldStarts),
    String(p.peakReplicas),
    String(p.peakNodes),
  ]);
}

/** The stdout table: one row per policy, numbers right-aligned. */
export function formatTable(run: RunDescription, result: SimulationResult): string {
  const rows = tableRows(result);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ");
  const start = DateTime.fromMillis(result.startMs, { zone: run.zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ");
  const end = DateTime.fromMillis(result.endMs, { zone: run.zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ");
  const header = [
    `${run.trace}: ${result.requests} requests, ${start} → ${end}, rate × ${round(result.scale, 4)}`,
    `SLA: first token within ${result.slaSeconds} s. Oracle: ${result.oracleGpuHours.toFixed(2)} GPU-h (clairvoyant, same replicas and start-up delays). Work bound: ${result.workBoundGpuHours.toFixed(2)} GPU-h (the work at 100 %, no start-up; unreachable). $${run.dollarsPerGpuHour}/GPU-h.`,
    `Front end: ${result.frontEnd}. GPU-h include the drain after the trace (its backlog served, back to the nodes held at its end); unserved requests count as misses.`,
    "",
  ];
  const omitted = result.omittedPolicies.map((p) => `left out: ${p.name} (${p.reason})`);
  return [
    ...header,
    line(COLUMNS),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    ...(omitted.length > 0 ? ["", ...omitted] : []),
  ].join("\n");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const WIDTH = 960;
/** Height of one policy's chart (the stacked SVG report places them this far apart). */
export const CHART_HEIGHT = 452;
const LEFT = 56;
const RIGHT = 16;
const PLOT_W = WIDTH - LEFT - RIGHT;

interface Panel {
  readonly top: number;
  readonly height: number;
}

function timeTicks(startMs: number, endMs: number, zone: string): { x: number; label: string }[] {
  const span = endMs - startMs;
  const steps = [60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000];
  const step = steps.find((s) => span / s <= 8) ?? 7 * 86_400_000;
  const format = step >= 86_400_000 ? "LLL dd" : span > 86_400_000 ? "LLL dd HH:mm" : "HH:mm";
  const ticks: { x: number; label: string }[] = [];
  const offsetMs = DateTime.fromMillis(startMs, { zone }).offset * 60_000;
  for (let t = Math.ceil((startMs + offsetMs) / step) * step - offsetMs; t <= endMs; t += step)
    ticks.push({
      x: LEFT + ((t - startMs) / span) * PLOT_W,
      label: DateTime.fromMillis(t, { zone }).toFormat(format),
    });
  return ticks;
}

function polyline(
  points: readonly TimelinePoint[],
  value: (p: TimelinePoint) => number,
  x: (i: number) => number,
  y: (v: number) => number,
): string {
  return points.map((p, i) => `${x(i).toFixed(1)},${y(value(p)).toFixed(1)}`).join(" ");
}

/** A step path (value held over each bucket), for counts such as replicas and nodes. */
function stepPath(
  points: readonly TimelinePoint[],
  value: (p: TimelinePoint) => number,
  x: (i: number) => number,
  y: (v: number) => number,
): string {
  let d = "";
  points.forEach((p, i) => {
    const v = y(value(p)).toFixed(1);
    d += `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${v} L${x(i + 1).toFixed(1)},${v} `;
  });
  return d.trim();
}

/**
 * One policy's chart, hand-written SVG: replicas (demand area, ready replicas, nodes, the warm
 * floor shaded, SLA misses marked in red), the queue, and the worst TTFT against the SLA line.
 */
export function policySvg(
  policy: PolicyResult,
  result: SimulationResult,
  zone: string,
  /** Scale to the container's width (an HTML page) instead of a fixed 960 px (a stacked SVG). */
  fluid = false,
): string {
  const points = policy.timeline;
  const n = Math.max(1, points.length);
  const startMs = result.startMs;
  const endMs = startMs + n * result.timelineBucketMinutes * 60_000;
  const x = (i: number) => LEFT + (i / n) * PLOT_W;
  const replicasPanel: Panel = { top: 52, height: 170 };
  const queuePanel: Panel = { top: 252, height: 70 };
  const ttftPanel: Panel = { top: 352, height: 70 };
  const height = CHART_HEIGHT;
  // The axis reaches the highest line (bucket maxima included) and ends on a labelled step.
  const replicaAxis = axisValues(
    Math.max(1, ...points.map((p) => Math.max(p.demandReplicas, p.readyReplicas, p.nodes, p.floorReplicas))),
  );
  const maxReplicas = replicaAxis[replicaAxis.length - 1] as number;
  const yReplicas = (v: number) => replicasPanel.top + replicasPanel.height * (1 - v / maxReplicas);
  const maxQueue = Math.max(1, ...points.map((p) => p.queueMax));
  const yQueue = (v: number) => queuePanel.top + queuePanel.height * (1 - v / maxQueue);
  // TTFT on a log scale from 0.1 s: the SLA line sits mid-panel, misses stand out above it.
  const maxTtft = Math.max(result.slaSeconds * 4, ...points.map((p) => p.ttftMaxSeconds));
  const logMin = Math.log10(0.1);
  const logMax = Math.log10(maxTtft);
  const yTtft = (v: number) =>
    ttftPanel.top + ttftPanel.height * (1 - (Math.log10(Math.max(0.1, v)) - logMin) / (logMax - logMin));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" ${fluid ? 'style="width:100%;height:auto"' : `width="${WIDTH}" height="${height}"`} viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="16" font-size="13"><tspan font-weight="600">${escapeXml(policy.name)}</tspan> — ${escapeXml(policy.description)}</text>`,
    `<text x="${LEFT}" y="32">within SLA ${percent(policy.withinSlaFraction)} · TTFT p95 ${seconds(policy.ttftP95Seconds)} · ${policy.gpuHours.toFixed(1)} GPU-h (× ${policy.oracleRatio.toFixed(2)} the oracle) · ${policy.scaleEvents} scale events · ${policy.coldStarts} cold starts</text>`,
  );
  // Warm floor: one shaded step area from 0 up to the floor.
  if (points.some((p) => p.floorReplicas > 0))
    parts.push(
      `<path d="${stepPath(points, (p) => p.floorReplicas, x, yReplicas)} L${x(n).toFixed(1)},${yReplicas(0)} L${x(0)},${yReplicas(0)} Z" fill="#d9f2d9" stroke="none"/>`,
    );
  const demandArea = `M${x(0)},${yReplicas(0)} L${polyline(
    points,
    (p) => p.demandReplicas,
    (i) => x(i + 0.5),
    yReplicas,
  ).replace(/ /g, " L")} L${x(n)},${yReplicas(0)} Z`;
  parts.push(`<path d="${demandArea}" fill="#c8c8c8" stroke="none"/>`);
  parts.push(
    `<path d="${stepPath(points, (p) => p.nodes, x, yReplicas)}" fill="none" stroke="#e08a00" stroke-width="1.2"/>`,
  );
  parts.push(
    `<path d="${stepPath(points, (p) => p.readyReplicas, x, yReplicas)}" fill="none" stroke="#1f5fbf" stroke-width="1.4"/>`,
  );
  // SLA misses: one red mark per run of buckets with misses.
  for (let i = 0; i < points.length; i++) {
    if ((points[i] as TimelinePoint).slaMisses < 0.5) continue;
    let j = i;
    while (j + 1 < points.length && (points[j + 1] as TimelinePoint).slaMisses >= 0.5) j++;
    parts.push(
      `<rect x="${x(i).toFixed(1)}" y="${replicasPanel.top + replicasPanel.height + 2}" width="${Math.max(1.5, x(j + 1) - x(i)).toFixed(1)}" height="6" fill="#d62728"/>`,
    );
    i = j;
  }
  for (const v of replicaAxis)
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yReplicas(v).toFixed(1)}" y2="${yReplicas(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${(yReplicas(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  parts.push(
    `<text x="${LEFT}" y="${replicasPanel.top - 4}" fill="#555">replicas: <tspan fill="#888">■ demand at 100 %</tspan> <tspan fill="#1f5fbf">— ready</tspan> <tspan fill="#e08a00">— nodes</tspan> <tspan fill="#5a5">■ warm floor</tspan> <tspan fill="#d62728">■ SLA misses</tspan></text>`,
  );
  // Axis titles, turned along each panel's left edge.
  for (const [panel, title] of [
    [replicasPanel, "replicas"],
    [queuePanel, "requests waiting"],
    [ttftPanel, "TTFT (s)"],
  ] as const) {
    const cy = panel.top + panel.height / 2;
    parts.push(
      `<text x="14" y="${cy}" transform="rotate(-90 14 ${cy})" text-anchor="middle" fill="#555">${title}</text>`,
    );
  }
  parts.push(
    `<text x="${LEFT - 6}" y="${queuePanel.top + 4}" text-anchor="end">${maxQueue}</text>`,
    `<text x="${LEFT - 6}" y="${queuePanel.top + queuePanel.height + 4}" text-anchor="end">0</text>`,
  );
  // Queue.
  parts.push(
    `<text x="${LEFT}" y="${queuePanel.top - 4}" fill="#555">queue (max ${maxQueue} waiting)</text>`,
    `<path d="M${x(0)},${yQueue(0)} L${polyline(
      points,
      (p) => p.queueMax,
      (i) => x(i + 0.5),
      yQueue,
    ).replace(/ /g, " L")} L${x(n)},${yQueue(0)} Z" fill="#b39ddb"/>`,
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yQueue(0)}" y2="${yQueue(0)}" stroke="#999"/>`,
  );
  // TTFT.
  parts.push(
    `<text x="${LEFT}" y="${ttftPanel.top - 4}" fill="#555">worst time to first token (log scale), SLA ${result.slaSeconds} s dashed</text>`,
    `<polyline points="${polyline(
      points,
      (p) => p.ttftMaxSeconds,
      (i) => x(i + 0.5),
      yTtft,
    )}" fill="none" stroke="#444" stroke-width="1"/>`,
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${yTtft(result.slaSeconds).toFixed(1)}" y2="${yTtft(result.slaSeconds).toFixed(1)}" stroke="#d62728" stroke-dasharray="4 3"/>`,
  );
  for (const v of [1, 10, 100, 1000].filter((v) => v <= maxTtft))
    parts.push(`<text x="${LEFT - 6}" y="${(yTtft(v) + 4).toFixed(1)}" text-anchor="end">${v} s</text>`);
  for (const tick of timeTicks(startMs, endMs, zone))
    parts.push(
      `<line x1="${tick.x.toFixed(1)}" x2="${tick.x.toFixed(1)}" y1="${replicasPanel.top}" y2="${ttftPanel.top + ttftPanel.height}" stroke="#f3f3f3"/>`,
      `<text x="${tick.x.toFixed(1)}" y="${height - 12}" text-anchor="middle">${escapeXml(tick.label)}</text>`,
    );
  parts.push("</svg>");
  return parts.join("\n");
}

/** Labelled values from 0 in round steps, the last one at or above `max`. */
function axisValues(max: number): number[] {
  const step =
    max <= 5 ? 1 : max <= 12 ? 2 : max <= 30 ? 5 : max <= 60 ? 10 : 10 ** Math.floor(Math.log10(max / 2));
  const values: number[] = [];
  for (let v = 0; v < max + step; v += step) values.push(v);
  while (values.length > 1 && (values[values.length - 2] as number) >= max) values.pop();
  return values;
}

/**
 * Why ours scaled: each change of its desired replicas with the policy's own sentence, and the
 * first tokens that missed the SLA before its next change (from the timeline, so within a
 * bucket), so a reader goes straight from a miss to what the policy was thinking.
 */
function decisionChangesHtml(policy: PolicyResult, zone: string): string {
  const changes = policy.decisionChanges;
  if (!changes || changes.total === 0) return "";
  // Changes and timeline are both in time order: one walk along the timeline serves every row.
  const timeline = policy.timeline;
  const atOf = (index: number) => timeline[index]?.atMs ?? Number.POSITIVE_INFINITY;
  let point = 0;
  const rows = changes.shown.map((change, i) => {
    const next = changes.shown[i + 1]?.atMs ?? Number.POSITIVE_INFINITY;
    while (atOf(point) < change.atMs) point++;
    let missed = 0;
    for (; atOf(point) < next; point++) missed += timeline[point]?.slaMisses ?? 0;
    const misses = Math.round(missed);
    const at = DateTime.fromMillis(change.atMs, { zone }).toFormat("yyyy-LL-dd HH:mm");
    return `<tr${misses > 0 ? ' class="missed"' : ""}><td>${escapeXml(at)}</td><td>${change.desiredReplicas}</td><td>${escapeXml(change.drivingFactor)}</td><td>${misses}</td><td class="reason">${escapeXml(change.summary)}</td></tr>`;
  });
  const shown = changes.shown.length < changes.total ? `, the first ${changes.shown.length} shown` : "";
  return `<details><summary>Why ${escapeXml(policy.name)} scaled: ${changes.total} changes of its desired replicas${shown}</summary>
<table>
<tr><th>from</th><th>desired</th><th>driven by</th><th>SLA misses before the next change</th><th>the policy's reason</th></tr>
${rows.join("\n")}
</table></details>`;
}

/** The `--report x.html` page: what was run, the comparison table, one chart per policy. */
export function reportHtml(
  run: RunDescription,
  result: SimulationResult,
  sweep?: SweepResult,
  slaTarget = sweep?.slaTarget ?? 0.999,
): string {
  const rows = tableRows(result);
  const table = [
    "<table>",
    `<tr>${COLUMNS.map((c) => `<th>${escapeXml(c)}</th>`).join("")}</tr>`,
    ...rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join("")}</tr>`),
    "</table>",
  ].join("\n");
  const charts = result.policies
    .map((p) => `<figure>${policySvg(p, result, run.zone, true)}</figure>${decisionChangesHtml(p, run.zone)}`)
    .join("\n");
  const start = DateTime.fromMillis(result.startMs, { zone: run.zone }).toFormat("yyyy-LL-dd HH:mm ZZZZ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keda-llm-scaler simulation: ${escapeXml(run.trace)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 24px 0; }
td.reason { text-align: left; }
tr.missed td { background: #fde8e8; }
</style></head><body>
<h1>${escapeXml(run.trace)}</h1>
<p>${result.requests} requests from ${escapeXml(start)}, rate × ${round(result.scale, 4)}, clock ${escapeXml(run.zone)}.
SLA: first token within ${result.slaSeconds} s. Oracle: ${result.oracleGpuHours.toFixed(2)} GPU-hours (clairvoyant: the fewest
replicas that keep the SLA, nodes requested exactly a lead time early). Work bound: ${result.workBoundGpuHours.toFixed(2)} GPU-hours
(the work at 100 % utilisation with no start-up delay; no policy can reach it). Seed ${run.seed}, tick ${run.tickSeconds} s.
Front end: ${escapeXml(result.frontEnd)}.</p>
${table}
${result.omittedPolicies.map((p) => `<p>Left out: ${escapeXml(p.name)} (${escapeXml(p.reason)}).</p>`).join("\n")}
<h2>Against each other</h2>
<ul>
${verdicts(result, sweep, slaTarget)
  .map((line) => `<li>${escapeXml(line)}</li>`)
  .join("\n")}
</ul>
<figure>${frontierSvg(result, sweep, slaTarget)}</figure>
${sweep ? "" : "<p>Run with <code>--sweep</code> to draw each policy's frontier over its main knob.</p>"}
<details><summary>Model parameters</summary><pre>${escapeXml(JSON.stringify(run.model, null, 2))}</pre></details>
${charts}
</body></html>
`;
}
