import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

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
