import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../../src/commands/explain.ts";
import { FAILURE_KINDS } from "../../src/readings/reading.ts";

async function explain(argv: string[], env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  const code = await run(argv, env, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function file(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "explain-"));
  const path = join(dir, "scenario.json");
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe("keda-llm-scaler explain", () => {
  it("prints the decision, each signal's verdict and the floor for given metadata, readings and time", async () => {
    const { code, out } = await explain([
      "--metadata",
      "warmFloorSchedule=Asia/Singapore Mon-Fri 08:00-23:00",
      "--readings",
      "queueBacklog=12,ttftP95Seconds=2.1,ttftRequestsPerSecond=0.05",
      "--at",
      "2026-11-23T07:50:00+08:00",
    ]);
    expect(code).toBe(0);
    expect(out).toContain("ScaledObject default/explain at 2026-11-23T07:50:00.000+08:00");
    expect(out).toContain("Answer: 1 replica(s) → GetMetrics 1 (target 1), IsActive true");
    expect(out).toMatch(/ttft +abstained .* too few samples for a P95/);
    // Every signal's status starts in one column, whatever the longest signal name.
    const rows = out
      .split("\n")
      .filter((line) => /^ {2}\S+ +(voted|held|abstained|failed|disabled|no source configured) /.test(line));
    expect(rows.length).toBeGreaterThan(5);
    expect(
      new Set(rows.map((row) => row.search(/(voted|held|abstained|failed|disabled|no source configured) /)))
        .size,
    ).toBe(1);
    expect(out).toContain('warm floor 1 (warm window "Asia/Singapore Mon-Fri 08:00-23:00"');
  });

  it("says when the warm floor raised the answer, and which switched-on signals have no source", async () => {
    const { code, out } = await explain([
      "--metadata",
      "warmFloorSchedule=UTC Mon-Sun 00:00-23:59",
      "--metadata",
      "warmFloorReplicas=3",
      "--readings",
      "queueBacklog=0,vllmWaiting=0,replicasReady=1",
      "--at",
      "2026-11-30T09:00:00Z",
    ]);
    expect(code).toBe(0);
    expect(out).toContain("Answer: 3 replica(s)");
    expect(out).toContain("Rules fired: none (the warm floor of 3 raised the answer)");
    expect(out).toMatch(/^ {2}kvCache +no source configured +— /m);
    expect(out).toMatch(/^ {2}e2e +disabled +— +switched off/m);
    // Without the floor the load sets the answer, and nothing is said to have raised it.
    const { out: bare } = await explain(["--readings", "queueBacklog=0,vllmWaiting=0,replicasReady=1"]);
    expect(bare).toMatch(/^Rules fired: none$/m);
  });

  it("takes environment defaults under the metadata, as the server does", async () => {
    const { out } = await explain(["--readings", "queueBacklog=10", "--json"], {
      QUEUE_MODE: "perReplica",
      MESSAGES_PER_REPLICA: "1",
      TARGET_UTILISATION: "1",
      MAX_REPLICAS: "50",
    });
    expect(JSON.parse(out)).toMatchObject({ desiredReplicas: 10, metricValue: 10, drivingFactor: "queue" });
  });

  it("replays a timeline file, carrying memory: hold, then UNAVAILABLE", async () => {
    const path = file({
      metadata: { queueMode: "perReplica", messagesPerReplica: "1", targetUtilisation: "1" },
      polls: [
        { at: "2026-11-23T09:00:00Z", readings: { queueBacklog: 4 } },
        { at: "2026-11-23T09:04:00Z", readings: { queueBacklog: "fail:connect ECONNREFUSED" } },
        { at: "2026-11-23T09:06:00Z", readings: { queueBacklog: "fail:connect ECONNREFUSED" } },
      ],
    });
    const { code, out } = await explain(["--file", path, "--json"]);
    expect(code).toBe(0);
    const decisions = JSON.parse(out) as { available: boolean; metricValue: number; drivingFactor: string }[];
    expect(decisions.map((d) => [d.available, d.metricValue, d.drivingFactor])).toEqual([
      [true, 4, "queue"],
      [true, 4, "hold"],
      [false, 0, "none"],
    ]);
  });

  it("takes the metadata, name and namespace from a ScaledObject YAML", async () => {
    const dir = mkdtempSync(join(tmpdir(), "explain-"));
    const path = join(dir, "scaledobject.yaml");
    writeFileSync(
      path,
      [
        "apiVersion: keda.sh/v1alpha1",
        "kind: ScaledObject",
        "metadata: {name: vllm-apac, namespace: inference}",
        "spec:",
        "  scaleTargetRef: {name: vllm-apac}",
        "  triggers:",
        "    - type: external",
        "      metadata:",
        "        scalerAddress: keda-llm-scaler:6000",
        '        warmFloorSchedule: "Asia/Singapore Mon-Fri 08:00-23:00"',
        '        warmFloorReplicas: "2"',
      ].join("\n"),
    );
    const { code, out } = await explain([
      "--scaledobject",
      path,
      "--readings",
      "queueBacklog=0",
      "--at",
      "2026-11-24T12:00:00+08:00",
    ]);
    expect(code).toBe(0);
    expect(out).toContain("ScaledObject inference/vllm-apac at 2026-11-24T12:00:00.000+08:00");
    expect(out).toContain("Answer: 2 replica(s) → GetMetrics 2 (target 1), IsActive true");
  });

  it("expresses every failure kind a source produces, and NaN or negative values as they were read", async () => {
    for (const kind of FAILURE_KINDS) {
      const { code, out } = await explain(["--readings", `queueBacklog=fail:${kind}:on purpose`, "--json"]);
      expect(code).toBe(0);
      const queue = JSON.parse(out).signals.find((v: { signal: string }) => v.signal === "queue");
      expect(queue.note).toBe(`queueBacklog: serviceBus ${kind}: on purpose`);
    }
    const plain = await explain(["--readings", "queueBacklog=fail:connect ECONNREFUSED", "--json"]);
    expect(JSON.parse(plain.out).signals[0].note).toBe(
      "queueBacklog: serviceBus unreachable: connect ECONNREFUSED",
    );
    for (const value of ["-100", "NaN", "Infinity", "-Infinity"]) {
      const { code, out } = await explain(["--readings", `vllmWaiting=${value}`, "--json"]);
      expect(code).toBe(0);
      const decision = JSON.parse(out);
      expect(decision.available).toBe(false);
      expect(decision.rules.map((r: { rule: string }) => r.rule)).toContain("bad-reading");
    }
  });

  it("shows a demand too small for two decimals with two significant digits, not as 0", async () => {
    // One request waiting at zero replicas, drained over 120 s at 2 req/s: 1 ÷ 120 ÷ 2 ≈ 0.0042.
    const { code, out } = await explain([
      "--metadata",
      "latencySlaSeconds=120",
      "--metadata",
      "targetUtilisation=0.9",
      "--readings",
      "vllmWaiting=1,vllmRunning=0,replicasDesired=0,replicasReady=0,replicasUnavailable=0",
      "--at",
      "2026-11-30T09:00:00Z",
    ]);
    expect(code).toBe(0);
    expect(out).toContain("Answer: 1 replica(s)");
    expect(out).toContain("1 replica(s): queue demand 0.0042 ÷ 0.9 headroom");
    expect(out).toContain("Fused load 0.0042 ÷ 0.9 headroom, answer set by queue");
  });

  it("names a bad metadata key, a bad reading and a bad instant", async () => {
    const badKey = await explain(["--metadata", "maxReplica=3"]);
    expect(badKey.code).toBe(1);
    expect(badKey.err).toContain('unknown key "maxReplica" (did you mean "maxReplicas"?)');
    const badReading = await explain(["--readings", "queueBaclog=3"]);
    expect(badReading.err).toContain('unknown reading "queueBaclog"');
    const badValue = await explain(["--readings", "queueBacklog=many"]);
    expect(badValue.err).toContain(
      'reading queueBacklog must be a number, or "fail[:KIND[:message]]", got "many"',
    );
    const badAt = await explain(["--at", "tomorrow"]);
    expect(badAt.err).toContain('--at "tomorrow" is not an ISO-8601 instant');
    const usage = await explain(["--bogus"]);
    expect(usage.code).toBe(2);
    // The flag named plainly, without node:util's advice to pass it as a positional after "--".
    expect(usage.err.split("\n")[0]).toBe("Unknown option '--bogus'");
    const stray = await explain(["extra"]);
    expect(stray.code).toBe(2);
    expect(stray.err).toContain("Unexpected argument 'extra'");
  });
});

describe("keda-llm-scaler explain --live", () => {
  it("reads through the configured sources, and with none configured answers UNAVAILABLE with the reason", async () => {
    const { code, out } = await explain(["--live", "--metadata", "serviceBusQueue=orders"], {});
    expect(code).toBe(0);
    expect(out).toContain("Answer: UNAVAILABLE to KEDA");
    expect(out).toMatch(/queue +failed/);
  }, 30_000);
});
