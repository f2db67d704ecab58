import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../deploy/support/kustomize.ts";

/**
 * The project brings its own Node: the `node` devDependency installs a Node 24 binary into
 * node_modules/.bin, and `npm run`/`npx` put that directory first on PATH. These tests run inside
 * vitest, so they see the runtime the test command really used, not the one a shell would pick.
 */

const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const pinned = packageJson.devDependencies.node ?? "";
const majorOf = (version: string) => Number(version.replace(/^v/, "").split(".")[0]);

describe("the Node runtime", () => {
  it("is the pinned Node 24 release, exactly", () => {
    expect(majorOf(pinned)).toBe(24);
    expect(process.versions.node).toBe(pinned);
  });

  it("is the binary from node_modules, not the machine's own Node", () => {
    const projectNode = realpathSync(join(REPO_ROOT, "node_modules", ".bin", "node"));
    expect(realpathSync(process.execPath)).toBe(projectNode);
  });

  it("agrees with engines and with @types/node", () => {
    expect(packageJson.engines.node).toBe(`>=${majorOf(pinned)}`);
    expect(majorOf(packageJson.devDependencies["@types/node"] ?? "")).toBe(majorOf(pinned));
  });
});
