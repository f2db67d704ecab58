/**
 * The benches' fleet (fleet.ts) as seen from outside it: the ScaledObjects KEDA would poll against
 * it, and the fleet started in a process of its own. Imports nothing of the test harness, so a
 * bench run by Node's own type stripping (`node bench/….ts`) can use it.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const FLEET_SCRIPT = fileURLToPath(new URL("./fleet.ts", import.meta.url));
/** Where `--import=tsx` is resolved from: the repository, whose node_modules has it. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The `index`th ScaledObject of a fleet of `namespaces` namespaces, as KEDA sends it. */
export function fleetScaledObject(index: number, namespaces: number, scalerAddress: string) {
  return {
    name: `llm-${index}`,
    namespace: `tenant-${index % namespaces}`,
    scalerMetadata: {
      scalerAddress,
      modelName: "llama-3-70b",
      deployment: `vllm-${index % namespaces}`,
      rateWindow: "10s",
      maxReplicas: "16",
    },
  };
}

/**
 * The fleet (fleet.ts) in a process of its own: a bench that measures its own process's CPU must
 * not count the exporters' work for Prometheus's scrapes. Stopped when its stdin closes: by
 * `stop()`, or by this process's exit, however it ended.
 */
export function startFleetProcess(namespaces: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ["--import=tsx", FLEET_SCRIPT, String(namespaces)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.stdin!.end();
    });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      // Complete lines only: a chunk can end inside one.
      const line = out
        .split("\n")
        .slice(0, -1)
        .find((text) => text.startsWith("{"));
      if (line) resolve({ url: (JSON.parse(line) as { url: string }).url, stop });
    });
    child.once("exit", (code) => reject(new Error(`the fleet process exited with ${code} before it was up`)));
  });
}
