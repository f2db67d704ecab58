import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSC = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));

/**
 * Compiles the service into dist/ as the image's build stage does (`npm run build`), so that a
 * bench runs the JavaScript the image runs, not tsx's transform of the sources. Throws with the
 * compiler's output when it fails.
 */
export function buildLikeTheImage(): void {
  const built = spawnSync(process.execPath, [TSC, "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
}

export interface Container {
  readonly name?: string;
  readonly env?: readonly { readonly name?: string; readonly value?: string }[];
}

/** The NODE_OPTIONS a container's environment sets, if any. */
export function containerNodeOptions(container: Container): string | undefined {
  return container.env?.find((variable) => variable.name === "NODE_OPTIONS")?.value;
}

/**
 * The NODE_OPTIONS the shipped Deployment gives the scaler's container (its heap limits). The
 * bench starts both servers with them: V8 sizes and collects its heap by those limits (under a
 * small old-space limit it collects far more often), so the same code behaves very differently
 * under the Deployment's flags than under Node's defaults, and a bench without them measured a
 * process nobody runs.
 */
export function deploymentNodeOptions(deploymentFile: string): string {
  for (const document of parseAllDocuments(readFileSync(deploymentFile, "utf8"))) {
    const manifest = document.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: readonly Container[] } } };
    } | null;
    if (manifest?.kind !== "Deployment") continue;
    const scaler = manifest.spec?.template?.spec?.containers?.find((c) => c.name === "scaler");
    const options = scaler && containerNodeOptions(scaler);
    if (options !== undefined) return options;
  }
  throw new Error(`${deploymentFile}: no NODE_OPTIONS on the Deployment's scaler container`);
}

/**
 * The `node` flags of the image's ENTRYPOINT (those between `node` and the script), from the
 * Dockerfile's last ENTRYPOINT line (the runtime stage's), which must be in exec form. V8 flags that NODE_OPTIONS refuses can only be given there,
 * and the bench starts both servers with them, so that it measures the process the image starts.
 */
export function imageNodeFlags(dockerfile: string): { flags: string[]; script: string } {
  const entrypoints = readFileSync(dockerfile, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("ENTRYPOINT "));
  const last = entrypoints.at(-1);
  if (!last) throw new Error(`${dockerfile}: no ENTRYPOINT`);
  let command: unknown;
  try {
    command = JSON.parse(last.slice("ENTRYPOINT ".length));
  } catch {
    throw new Error(`${dockerfile}: the ENTRYPOINT is not in exec form (a JSON array): ${last}`);
  }
  if (!Array.isArray(command) || command[0] !== "node" || !command.every((part) => typeof part === "string"))
    throw new Error(`${dockerfile}: the ENTRYPOINT does not start node: ${last}`);
  const scriptAt = command.findIndex((part: string, index) => index > 0 && !part.startsWith("-"));
  if (scriptAt < 0) throw new Error(`${dockerfile}: the ENTRYPOINT names no script: ${last}`);
  return { flags: command.slice(1, scriptAt) as string[], script: command[scriptAt] as string };
}
