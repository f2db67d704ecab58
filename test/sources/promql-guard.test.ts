import { describe, expect, it } from "vitest";
import { parseScalerSpec } from "../../src/config/spec.ts";
import { signalKeysWhere } from "../../src/readings/signal-table.ts";
import { namespaceViolation, vectorSelectors } from "../../src/sources/prometheus/guard.ts";
import { regexLiteral, stringLiteral } from "../../src/sources/prometheus/promql.ts";
import { type PrometheusSignal, prometheusQuery } from "../../src/sources/prometheus/queries.ts";

const NS = "team-a";

describe("custom query namespace guard", () => {
  it.each([
    ['sum(vllm:num_requests_waiting{namespace="team-a"})'],
    [
      'histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace="team-a", pod=~"llama-.*"}[2m])))',
    ],
    ['sum(rate(x{namespace="team-a"}[5m:1m] offset 1m)) / on() group_left count(y{namespace="team-a"})'],
    ['label_replace(max(up{namespace="team-a"}), "namespace", "team-b", "", "")'],
    ['count_values("namespace", kube_pod_info{namespace="team-a"})'],
    ['max(a{namespace="team-a"}) or vector(0) # namespace="team-b" in a comment'],
    ["sum without (namespace) (m{namespace='team-a'})"],
    ["sum(m{namespace=`team-a`}) by (pod)"],
    ['{__name__="vllm:num_requests_waiting", namespace="team-a"}'],
    ["vector(1) + 2 * 3e-2 - Inf"],
    ['sum(m{namespace="t\\x65am-a"})'],
    ['m{namespace="team-a"} @ end()'],
  ])("accepts %s", (query) => {
    expect(namespaceViolation(query, NS)).toBeUndefined();
  });

  it.each([
    ["sum(vllm:num_requests_waiting)", "no namespace at all"],
    ['sum(vllm:num_requests_waiting{namespace="team-b"})', "another namespace"],
    ['sum(m{namespace="team-a"}) or sum(m{namespace="team-b"})', "`or` with another namespace"],
    ['sum(m{namespace="team-a"}) or sum(m)', "`or` with an unscoped selector"],
    ['sum(m{namespace=~"team-a|team-b"})', "a regex namespace matcher"],
    ['sum(m{namespace=~".*"})', "a match-all regex"],
    ['sum(m{namespace="team-a",namespace=~".*"})', "a match-all regex beside the exact matcher"],
    ['sum(m{namespace="team-a",namespace!="team-b"})', "a negative matcher beside the exact matcher"],
    ['sum(m{namespace!="team-a"})', "namespace!="],
    ['sum(m{namespace!~"team-a"})', "namespace!~"],
    ['sum(m{namespace="team-a-other"})', "a longer namespace with the same prefix"],
    ['sum(m{namespace="team-a"}) + on() group_left sum(m{pod="x"})', "a second selector without namespace"],
    ['{__name__=~".+"}', "a bare brace selector"],
    ['m{namespace="team-a"}[5m] and on() n[5m]', "a range selector without namespace"],
    ['absent(m{namespace="team-b"})', "a selector inside a function"],
    ['sum(m{namespace="team-a", pod="x"} ) / sum(m{pod="x", namespace="team-b"})', "one of two"],
    ['m{namespace="team-a"', "an unterminated selector"],
    ['m{namespace="team-a}', "an unterminated string"],
    ['m{namespace="team-a"} }', "an unbalanced brace"],
    ['m{namespace="team-a", bad}', "a matcher without a value"],
    ['m{namespace="team-a"} ; drop', "an unknown character"],
    ['m{namespace="team-a\\q"}', "an unknown escape"],
    ['sum(m{namespace="team-a"}) or sum by (pod) (m{namespace="team-b"})', "by-list then a foreign selector"],
  ])("rejects %s (%s)", (query) => {
    expect(namespaceViolation(query, NS)).toBeDefined();
  });

  it("finds the selectors of a realistic query", () => {
    const selectors = vectorSelectors(
      'sum(rate(a:b_total{namespace="x"}[2m])) / count(count by (pod) (c{namespace="x"}))',
    );
    expect(selectors.map((s) => s.metric)).toEqual(["a:b_total", "c"]);
  });
});

describe("PromQL literals", () => {
  it("escapes quotes, backslashes and newlines so a value cannot end its string", () => {
    expect(stringLiteral('a"} or x{b="')).toBe('"a\\"} or x{b=\\""');
    expect(stringLiteral("a\\")).toBe('"a\\\\"');
    expect(stringLiteral("a\nb\u0001")).toBe('"a\\nb\\x01"');
    // What the guard reads back is exactly the original value.
    const tricky = 'ns"}\\ or {namespace="other';
    const [selector] = vectorSelectors(`m{namespace=${stringLiteral(tricky)}}`);
    expect(selector?.matchers[0]?.value).toBe(tricky);
  });

  it("escapes regex metacharacters", () => {
    expect(regexLiteral("llama.3+(x)|y*")).toBe("llama\\.3\\+\\(x\\)\\|y\\*");
  });
});

describe("built queries", () => {
  const spec = (metadata: Record<string, string> = {}) =>
    parseScalerSpec({ name: "llama", namespace: NS }, metadata, {});

  it("scope every selector to the ScaledObject's namespace and pass the guard themselves", () => {
    // Every reading the signal table says Prometheus produces, so a new row is checked too.
    const signals = signalKeysWhere((a) =>
      a.sources.some((source) => source === "prometheus"),
    ) as PrometheusSignal[];
    expect(signals).toEqual(expect.arrayContaining(["vllmWaiting", "e2eP95Seconds", "gpuMemoryUsage"]));
    for (const signal of signals) {
      const query = prometheusQuery(spec({ modelName: "org/model:v1+x" }), signal, {
        allowCustomQueries: false,
      });
      if ("ok" in query) throw new Error(query.failure.message);
      expect(namespaceViolation(query.expr, NS), `${signal}: ${query.expr}`).toBeUndefined();
      expect(namespaceViolation(query.expr, "team-b")).toBeDefined();
    }
  });

  it("write the PromQL the README shows", () => {
    const query = prometheusQuery(spec({ modelName: "m" }), "vllmWaiting", { allowCustomQueries: false });
    if ("ok" in query) throw new Error(query.failure.message);
    expect(query.expr).toBe(
      'label_replace(sum(vllm:num_requests_waiting{namespace="team-a", pod=~"llama-[a-z0-9]+-[a-z0-9]+", model_name="m"}), "scaler_part", "value", "", "")' +
        ' or label_replace(min(timestamp(vllm:num_requests_running{namespace="team-a", pod=~"llama-[a-z0-9]+-[a-z0-9]+", model_name="m"})), "scaler_part", "freshness", "", "")',
    );
  });

  it("refuse metadata values that could break out of PromQL at parse time", () => {
    for (const [key, value] of [
      ["modelName", 'm"} or x{a="'],
      ["deployment", "llama}"],
      ["podPrefix", "llama.*"],
      ["rateWindow", "2m]) or up[1m"],
    ] as const)
      expect(() => spec({ [key]: value }), key).toThrow(/scalerMetadata\./);
  });
});
