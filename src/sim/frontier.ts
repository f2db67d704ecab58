import type { SimulationResult } from "./runner.ts";
import type { SweepResult } from "./sweep.ts";

const WIDTH = 960;
const HEIGHT = 440;
const LEFT = 78;
const RIGHT = 200;
const TOP = 36;
const BOTTOM = 56;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;
const COLOURS = ["#1f5fbf", "#d62728", "#2ca02c", "#9467bd", "#e08a00", "#8c564b", "#17becf", "#7f7f7f"];
/** Shares within the SLA on a "nines" scale: 90 %, 99 %, 99.9 % and 99.99 % evenly spaced. */
const MAX_NINES = 4;

function nines(fraction: number): number {
  return Math.min(MAX_NINES, -Math.log10(Math.max(1 - fraction, 10 ** -MAX_NINES)));
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface Marker {
  readonly gpuHours: number;
  readonly withinSlaFraction: number;
  readonly label: string;
}

/**
 * Each policy's SLA-vs-GPU-hours frontier: the points of its sweep (or its one run without a
 * sweep) joined in order of cost, the setting it ran with ringed, the oracle as a black diamond
 * (the CA variant hollow), and the SLA target dashed. Up and to the left is better.
 */
export function frontierSvg(
  result: SimulationResult,
  sweep: SweepResult | undefined,
  slaTarget: number,
): string {
  const series = result.policies
    .filter((p) => !p.name.startsWith("oracle"))
    .map((p) => {
      const swept = sweep?.points.filter((s) => s.policy === p.name) ?? [];
      const points: Marker[] =
        swept.length > 0
          ? swept.map((s) => ({
              gpuHours: s.gpuHours,
              withinSlaFraction: s.withinSlaFraction,
              label: `${p.name} ${s.knob} ${s.value}`,
            }))
          : [];
      return {
        name: p.name,
        points: [...points].sort((a, b) => a.gpuHours - b.gpuHours),
        shipped: { gpuHours: p.gpuHours, withinSlaFraction: p.withinSlaFraction, label: `${p.name} as run` },
      };
    });
  const references = result.policies
    .filter((p) => p.name.startsWith("oracle"))
    .map((p) => ({ gpuHours: p.gpuHours, withinSlaFraction: p.withinSlaFraction, label: p.name }));
  const all = [...series.flatMap((s) => [...s.points, s.shipped]), ...references];
  const maxHours = niceCeiling(Math.max(1e-6, ...all.map((m) => m.gpuHours)) * 1.05);
  const x = (hours: number) => LEFT + (hours / maxHours) * PLOT_W;
  const y = (fraction: number) => TOP + PLOT_H * (1 - nines(fraction) / MAX_NINES);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" style="width:100%;height:auto" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="13" font-weight="600">Requests within the SLA against GPU-hours${sweep ? ", each policy over its knob" : ""}</text>`,
  ];
  for (const [fraction, label] of [
    [0, "0 %"],
    [0.9, "90 %"],
    [0.99, "99 %"],
    [0.999, "99.9 %"],
    [0.9999, "≥ 99.99 %"],
  ] as const)
    parts.push(
      `<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${y(fraction).toFixed(1)}" y2="${y(fraction).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${LEFT - 6}" y="${(y(fraction) + 4).toFixed(1)}" text-anchor="end">${label}</text>`,
    );
  for (const hours of xTicks(maxHours))
    parts.push(
      `<line x1="${x(hours).toFixed(1)}" x2="${x(hours).toFixed(1)}" y1="${TOP}" y2="${TOP + PLOT_H}" stroke="#f3f3f3"/>`,
      `<text x="${x(hours).toFixed(1)}" y="${TOP + PLOT_H + 16}" text-anchor="middle">${formatHours(hours)}</text>`,
    );
  const midY = TOP + PLOT_H / 2;
  parts.push(
    `<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${y(slaTarget).toFixed(1)}" y2="${y(slaTarget).toFixed(1)}" stroke="#d62728" stroke-dasharray="5 3"/>`,
    `<text x="${LEFT + PLOT_W - 4}" y="${(y(slaTarget) - 4).toFixed(1)}" text-anchor="end" fill="#d62728">target ${(slaTarget * 100).toFixed(1)} %</text>`,
    `<text x="${LEFT + PLOT_W / 2}" y="${HEIGHT - 12}" text-anchor="middle" fill="#555">GPU-hours</text>`,
    `<text x="16" y="${midY}" transform="rotate(-90 16 ${midY})" text-anchor="middle" fill="#555">requests within the SLA (nines scale)</text>`,
    `<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${TOP + PLOT_H}" stroke="#999"/>`,
    `<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${TOP + PLOT_H}" y2="${TOP + PLOT_H}" stroke="#999"/>`,
  );
  const tip = (m: Marker) =>
    `<title>${escapeXml(`${m.label}: ${(m.withinSlaFraction * 100).toFixed(3)} % within SLA, ${m.gpuHours.toFixed(2)} GPU-h`)}</title>`;
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    if (s.points.length > 1)
      parts.push(
        `<polyline points="${s.points.map((m) => `${x(m.gpuHours).toFixed(1)},${y(m.withinSlaFraction).toFixed(1)}`).join(" ")}" fill="none" stroke="${colour}" stroke-width="1.5"/>`,
      );
    for (const m of s.points)
      parts.push(
        `<circle cx="${x(m.gpuHours).toFixed(1)}" cy="${y(m.withinSlaFraction).toFixed(1)}" r="3.5" fill="${colour}">${tip(m)}</circle>`,
      );
    parts.push(
      `<circle cx="${x(s.shipped.gpuHours).toFixed(1)}" cy="${y(s.shipped.withinSlaFraction).toFixed(1)}" r="7" fill="none" stroke="${colour}" stroke-width="2">${tip(s.shipped)}</circle>`,
    );
    const ly = TOP + 8 + i * 18;
    parts.push(
      `<circle cx="${LEFT + PLOT_W + 24}" cy="${ly}" r="4" fill="${colour}"/>`,
      `<text x="${LEFT + PLOT_W + 34}" y="${ly + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  references.forEach((m, i) => {
    const cx = x(m.gpuHours);
    const cy = y(m.withinSlaFraction);
    const fill = m.label === "oracle" ? "#000" : "#fff";
    const diamond = (px: number, py: number) =>
      `${px},${py - 7} ${px + 7},${py} ${px},${py + 7} ${px - 7},${py}`;
    parts.push(
      `<polygon points="${diamond(cx, cy)}" fill="${fill}" stroke="#000" stroke-width="1.5">${tip(m)}</polygon>`,
    );
    const ly = TOP + 8 + (series.length + i) * 18;
    parts.push(
      `<polygon points="${diamond(LEFT + PLOT_W + 24, ly)}" fill="${fill}" stroke="#000" stroke-width="1.2" transform="translate(0 0)"/>`,
      `<text x="${LEFT + PLOT_W + 34}" y="${ly + 4}">${escapeXml(m.label)}</text>`,
    );
  });
  const noteY = TOP + 8 + (series.length + references.length) * 18 + 10;
  parts.push(
    `<circle cx="${LEFT + PLOT_W + 24}" cy="${noteY}" r="7" fill="none" stroke="#555" stroke-width="2"/>`,
    `<text x="${LEFT + PLOT_W + 34}" y="${noteY + 4}">setting as run</text>`,
    "</svg>",
  );
  return parts.join("\n");
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= value) return m * magnitude;
  return 10 * magnitude;
}

function xTicks(max: number): number[] {
  const step = niceCeiling(max / 6);
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(v);
  return ticks;
}

function formatHours(hours: number): string {
  return hours >= 100 ? Math.round(hours).toLocaleString("en-US") : hours.toFixed(hours >= 10 ? 0 : 1);
}
