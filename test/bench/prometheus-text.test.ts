import { describe, expect, it } from "vitest";
import { sumSeries } from "../../bench/support/prometheus-text.ts";

const exposition = [
  "# HELP prometheus_http_requests_total Counter of HTTP requests.",
  "# TYPE prometheus_http_requests_total counter",
  'prometheus_http_requests_total{code="200",handler="/api/v1/query"} 1.5e+03',
  'prometheus_http_requests_total{code="400",handler="/api/v1/query"} 7',
  'prometheus_http_requests_total{code="200",handler="/api/v1/query_range"} 40',
  'prometheus_http_requests_total_created{code="200",handler="/api/v1/query"} 1.7e+09',
  "keda_llm_scaler_source_cache_hits_total 12",
].join("\n");

describe("sumSeries", () => {
  it("adds every series of the counter that carries the label, and no other counter", () => {
    // The query_range series and the _created series share a prefix; neither is counted.
    expect(sumSeries(exposition, "prometheus_http_requests_total", 'handler="/api/v1/query"')).toBe(1507);
  });

  it("reads an unlabelled counter, and a counter that is absent as zero", () => {
    expect(sumSeries(exposition, "keda_llm_scaler_source_cache_hits_total")).toBe(12);
    expect(sumSeries(exposition, "keda_llm_scaler_source_requests_total")).toBe(0);
  });
});
