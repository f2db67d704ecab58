import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";

/** A port someone else already holds: the scaler must name the setting that chose it. */
describe("serve on a port that is already taken", () => {
  let taken: Server;
  let port = 0;

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it.each(["GRPC_PORT", "HTTP_PORT"] as const)("exits 1 with one short line naming %s", (setting) => {
    const env = { LISTEN_HOST: "127.0.0.1", GRPC_PORT: "0", HTTP_PORT: "0", LOG_LEVEL: "warn" };
    const result = runCli(["serve"], { ...env, [setting]: String(port) });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      `keda-llm-scaler: ${setting}=${port} on 127.0.0.1: the port is already in use by another process; ` +
        `stop it or set ${setting} to a free port`,
    );
  });

  it("names LISTEN_HOST when the address is not this machine's", () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a real interface.
    const result = runCli(["serve"], {
      LISTEN_HOST: "192.0.2.1",
      GRPC_PORT: "0",
      HTTP_PORT: "0",
      LOG_LEVEL: "warn",
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^keda-llm-scaler: GRPC_PORT=0 on 192\.0\.2\.1: LISTEN_HOST=192\.0\.2\.1 is not an address/,
    );
  });
});
