import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, startCli } from "../support/cli.ts";
import { eventually, KedaLikeClient, ref } from "../support/scaler-harness.ts";

/**
 * `npm start` runs the TypeScript sources on Node's own type stripping, not through tsx: tsx
 * runs the program in a child process, which outlives a SIGTERM that reaches only its parent.
 * Strip-only mode refuses enums, namespaces and parameter properties, so this also proves that
 * everything `serve` loads is erasable syntax.
 */
describe("npm start", () => {
  it("is plain node on the sources", () => {
    const scripts = (
      JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.start).toBe("node src/cli.ts serve");
    expect(scripts.serve).toBe("node src/cli.ts serve");
  });

  it("serves KEDA's calls with Node's type stripping and exits 0 on SIGTERM", async () => {
    const serve = startCli(["serve"], { LISTEN_HOST: "127.0.0.1", GRPC_PORT: "0", HTTP_PORT: "0" }, "node");
    try {
      let port = 0;
      await eventually(() => {
        const match = /"grpcPort":(\d+)/.exec(serve.lines.join("\n"));
        if (!match) throw new Error(`not serving yet: ${serve.stderr()}`);
        port = Number(match[1]);
      }, 30_000);
      const client = new KedaLikeClient(`127.0.0.1:${port}`);
      try {
        const spec = await client.call<{ metricSpecs: { metricName: string }[] }>(
          "GetMetricSpec",
          ref("llama"),
        );
        expect(spec.metricSpecs).toHaveLength(1);
      } finally {
        client.close();
      }
      serve.child.kill("SIGTERM");
      expect(await serve.exited).toBe(0);
      expect(serve.stderr()).not.toMatch(/strip-only|ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX/);
    } finally {
      serve.child.kill("SIGKILL");
    }
  });
});
