import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decisionSeriesLabels } from "../../src/server/decision-series.ts";
import { ScalerMetrics } from "../../src/server/metrics.ts";
import { SourceMetrics } from "../../src/sources/source-metrics.ts";
import { DEPLOY_DIR } from "./support/kustomize.ts";

interface Target {
  expr: string;
  legendFormat?: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  datasource?: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string }[] };
}

const dashboard = JSON.parse(
  readFileSync(join(DEPLOY_DIR, "grafana/keda-llm-scaler.json"), "utf8"),
) as Dashboard;

/** kube-state-metrics series the dashboard joins in, with the labels it relies on. */
const KUBE_STATE_METRICS: Record<string, string[]> = {
  kube_deployment_spec_replicas: ["namespace", "deployment"],
  kube_deployment_status_replicas_ready: ["namespace", "deployment"],
};

/** Every series the scaler's /metrics can carry, with its label names, read from the code itself. */
async function exportedSeries(): Promise<Map<string, string[]>> {
  const series = new Map<string, string[]>();
  for (const registry of [
    new ScalerMetrics({ processMetrics: false }).registry,
    new SourceMetrics().registry,
  ])
    for (const metric of await registry.getMetricsAsJSON()) {
      const labels = (registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] })
        .labelNames;
      if (String(metric.type) === "histogram") {
        series.set(`${metric.name}_bucket`, [...labels, "le"]);
        series.set(`${metric.name}_sum`, labels);
        series.set(`${metric.name}_count`, labels);
      } else series.set(metric.name, labels);
    }
  for (const [name, labels] of decisionSeriesLabels()) series.set(name, labels);
  for (const [name, labels] of Object.entries(KUBE_STATE_METRICS)) series.set(name, labels);
  return series;
}

function queries(d: Dashboard): { where: string; expr: string; legend?: string }[] {
  return [
    ...d.panels.flatMap((panel) =>
      (panel.targets ?? []).map((t) => ({ where: panel.title, expr: t.expr, legend: t.legendFormat })),
    ),
    ...d.templating.list
      .filter((v) => v.definition)
      .map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? "" })),
  ];
}

/** Series that do not exist, and labels (selectors, by(), legends) the series do not carry. */
function queryProblems(d: Dashboard, series: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const { where, expr, legend } of queries(d)) {
    const names = [...expr.matchAll(/\b(keda_llm_scaler_\w+|kube_\w+)\b/g)].map((m) => m[1] ?? "");
    if (names.length === 0) problems.push(`${where}: queries no known series`);
    const available = new Set<string>();
    for (const name of names) {
      const labels = series.get(name);
      if (!labels) problems.push(`${where}: ${name} is not exported`);
      for (const label of labels ?? []) available.add(label);
    }
    const used = [
      ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
        [...(m[1] ?? "").matchAll(/(\w+)\s*(?:=~|!=|!~|=)/g)].map((l) => l[1] ?? ""),
      ),
      ...[...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) =>
        (m[1] ?? "").split(",").map((l) => l.trim()),
      ),
      ...[...(legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? ""),
      ...[...expr.matchAll(/label_values\([^,]*,\s*(\w+)\)/g)].map((m) => m[1] ?? ""),
    ];
    for (const label of used)
      if (!available.has(label)) problems.push(`${where}: label ${label} is not on ${names.join(", ")}`);
  }
  return problems;
}

describe("the Grafana dashboard (deploy/grafana/keda-llm-scaler.json)", () => {
  it("queries only series the scaler (or kube-state-metrics) exports, with labels they carry", async () => {
    expect(queryProblems(dashboard, await exportedSeries())).toEqual([]);
  });

  it("has the panels an operator asks for first", () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase());
    for (const wanted of [
      /desired vs\. ready/,
      /driving factor/,
      /per-signal demand/,
      /warm floor/,
      /source errors/,
    ])
      expect(
        titles.some((t) => wanted.test(t)),
        String(wanted),
      ).toBe(true);
  });

  it("uses a data-source variable, so it imports into any Grafana", () => {
    expect(dashboard.templating.list.find((v) => v.type === "datasource")?.name).toBe("datasource");
    // Grafana's own variable syntax, not a JavaScript template.
    for (const panel of dashboard.panels.filter((p) => p.type !== "row"))
      expect(panel.datasource?.uid, panel.title).toBe(["$", "{datasource}"].join(""));
  });

  it("reports a misspelt label and a series nobody exports (so the check above can fail)", async () => {
    const broken = structuredClone(dashboard);
    const target = broken.panels.find((p) => p.targets?.length)?.targets?.[0];
    if (!target) throw new Error("no query in the dashboard");
    target.expr = 'max by (scaledobject) (keda_llm_scaler_desired_replica{namespace=~"$namespace"})';
    const problems = queryProblems(broken, await exportedSeries()).join("\n");
    expect(problems).toMatch(/keda_llm_scaler_desired_replica is not exported/);
    expect(problems).toMatch(/label scaledobject/);
  });
});
