import type { SimulationResult } from "./runner.ts";
import type { CheapestPoint, SweepResult } from "./sweep.ts";

/**
 * One line per policy against the others (ours' variants are not each other's alternatives): its SLA share and cost relative to the cheapest
 * alternative that reaches the SLA target. With a sweep, every policy is taken at its cheapest
 * setting that reaches the target; without one, at the setting it ran with. The oracle rows are
 * references, not alternatives.
 */
export function verdicts(
  result: SimulationResult,
  sweep: SweepResult | undefined,
  slaTarget: number,
): string[] {
  const candidates = new Map<string, { point: CheapestPoint | null; label: string }>();
  for (const p of result.policies) {
    if (isReference(p.name)) continue;
    const swept = sweep?.cheapestAtSla[p.name];
    if (swept !== undefined)
      candidates.set(p.name, {
        point: swept,
        label: swept ? `${p.name} at ${swept.knob} ${swept.value}` : p.name,
      });
    else
      candidates.set(p.name, {
        point:
          p.withinSlaFraction >= slaTarget
            ? { knob: "", value: Number.NaN, gpuHours: p.gpuHours, withinSlaFraction: p.withinSlaFraction }
            : null,
        label: p.name,
      });
  }
  const target = pct(slaTarget);
  const lines: string[] = [];
  for (const [name, { point }] of candidates) {
    let rival: { name: string; label: string; point: CheapestPoint } | undefined;
    for (const [other, c] of candidates)
      if (family(other) !== family(name) && c.point && (!rival || c.point.gpuHours < rival.point.gpuHours))
        rival = { name: other, label: c.label, point: c.point };
    const oracle = result.oracleGpuHours;
    if (!point) {
      const best = bestMiss(name, result, sweep);
      const own = sweep
        ? `${name}: no setting reaches ${target} within the SLA (best ${pct(best.fraction)}${best.at})`
        : `${name}: ${pct(best.fraction)} within SLA, short of ${target}`;
      lines.push(
        `${own}${rival ? `; ${rival.label} reaches it at ${fixed(rival.point.gpuHours / oracle)}× the oracle` : ""}`,
      );
      continue;
    }
    const at = sweep?.cheapestAtSla[name] ? ` (${point.knob} ${point.value})` : "";
    const own = `${name}${at}: ${pct(point.withinSlaFraction)} within SLA at ${fixed(point.gpuHours / oracle)}× the oracle`;
    if (!rival) {
      lines.push(`${own}; no alternative reaches ${target}`);
      continue;
    }
    const ratio = point.gpuHours / rival.point.gpuHours;
    lines.push(
      `${own}, ${fixed(ratio)}× the cheapest alternative that reaches ${target} (${rival.label}, ${rival.point.gpuHours.toFixed(1)} GPU-h)${ratio > 1 ? " — it loses on cost" : ""}`,
    );
  }
  return lines;
}

/** Variants of ours are not alternatives to each other. */
function family(name: string): string {
  return name.startsWith("ours") ? "ours" : name;
}

function isReference(name: string): boolean {
  return name === "oracle" || name === "oracle-ca";
}

function bestMiss(
  name: string,
  result: SimulationResult,
  sweep: SweepResult | undefined,
): { fraction: number; at: string } {
  const points = sweep?.points.filter((p) => p.policy === name) ?? [];
  if (points.length === 0)
    return { fraction: result.policies.find((p) => p.name === name)?.withinSlaFraction ?? 0, at: "" };
  const best = points.reduce((a, b) => (b.withinSlaFraction > a.withinSlaFraction ? b : a));
  return { fraction: best.withinSlaFraction, at: ` at ${best.knob} ${best.value}` };
}

function pct(fraction: number): string {
  const digits = fraction >= 0.999 && fraction < 1 ? 2 : 1;
  return `${(Math.floor(fraction * 10 ** (digits + 2)) / 10 ** digits).toFixed(digits)} %`;
}

function fixed(value: number): string {
  return value.toFixed(2);
}
