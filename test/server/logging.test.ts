import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loadServiceConfig } from "../../src/config/service-config.ts";
import { createLogger } from "../../src/server/logger.ts";
import { startScalerServer } from "../../src/server/scaler-server.ts";
import { KedaLikeClient, ONE_PER_MESSAGE, ref, ScriptedSource } from "../support/scaler-harness.ts";

/** The JSON lines a logger wrote, parsed. */
class CapturedLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString("utf8").split("\n"))
      if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

describe("the server's log lines", () => {
  it("logs a changed decision with its fields, while secret-looking fields elsewhere stay redacted", async () => {
    const captured = new CapturedLines();
    const logger = createLogger("info", captured);
    const env = { LISTEN_HOST: "127.0.0.1", GRPC_PORT: "0", HTTP_PORT: "0" };
    const source = new ScriptedSource();
    source.setBacklog(3);
    const scaler = await startScalerServer({ config: loadServiceConfig(env), env, source, logger });
    const client = new KedaLikeClient(`127.0.0.1:${scaler.grpcPort}`);
    try {
      await client.call("IsActive", ref("chat", ONE_PER_MESSAGE));
      logger.warn({ upstream: { connectionString: "Endpoint=sb://x/;SharedAccessKey=s3cret" } }, "probe");
    } finally {
      client.close();
      await scaler.shutdown();
    }
    const decision = captured.lines.find((line) => line.drivingFactor !== undefined);
    expect(decision).toMatchObject({
      scaledObject: { name: "chat", namespace: "inference" },
      desiredReplicas: 3,
      active: true,
      available: true,
      drivingFactor: "queue",
    });
    expect(String(decision?.msg)).toMatch(/^3 replica\(s\)/);
    const probe = captured.lines.find((line) => line.msg === "probe");
    expect(probe?.upstream).toEqual({ connectionString: "[redacted]" });
    expect(JSON.stringify(captured.lines)).not.toContain("s3cret");
  });
});
