import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/kustomize.ts";

/**
 * No container engine runs here, so the Dockerfile is checked for what it promises: the build it
 * runs is the project's own (`npm run build` → dist/src/cli.js), the runtime has production
 * dependencies only, a pinned base, a numeric non-root user and both ports.
 */

interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: { op: string; args: string }[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: { from: string; name?: string; instructions: { op: string; args: string }[] }[] = [];
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  for (const line of logical) {
    const [op = "", ...rest] = line.split(/\s+/);
    const argText = rest.join(" ");
    if (op.toUpperCase() === "FROM") {
      const [image = "", as, name] = rest;
      const resolved = image.replace(/^\$\{(\w+)\}$/, (_, arg: string) => args.get(arg) ?? image);
      stages.push({ from: resolved, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && op.toUpperCase() === "ARG") {
      const [key = "", value = ""] = argText.split("=", 2);
      args.set(key, value);
    } else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args: argText });
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8"));
const runtime = dockerfile.stages.at(-1);
const build = dockerfile.stages[0];
const ops = (stage: Stage | undefined, op: string) =>
  (stage?.instructions ?? []).filter((i) => i.op === op).map((i) => i.args);
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  engines: { node: string };
  devDependencies: Record<string, string>;
};

describe("the Dockerfile", () => {
  it("pins one Node base by tag and by digest for both stages: the release development and CI run", () => {
    expect(dockerfile.stages).toHaveLength(2);
    // The `node` devDependency is the Node that `npm run` and the tests use; the image must not
    // drift from it, or production runs a runtime no test ever saw.
    const pinned = packageJson.devDependencies.node ?? "";
    expect(pinned).toMatch(/^24\.\d+\.\d+$/);
    for (const stage of dockerfile.stages)
      expect(stage.from).toMatch(
        new RegExp(`^node:${pinned.replaceAll(".", "\\.")}-[a-z]+-slim@sha256:[0-9a-f]{64}$`),
      );
    expect(new Set(dockerfile.stages.map((s) => s.from)).size).toBe(1);
    expect(packageJson.engines.node).toBe(`>=${pinned.split(".")[0]}`);
  });

  it("builds with dev dependencies and the project's own build script", () => {
    expect(ops(build, "RUN").join("\n")).toMatch(/npm ci\b/);
    expect(ops(build, "RUN")).toContain("npm run build");
    expect(packageJson.scripts.build).toBe("tsc -p tsconfig.build.json");
    const tsconfigBuild = readFileSync(join(REPO_ROOT, "tsconfig.build.json"), "utf8");
    // rootDir "." and include ["src"]: src/cli.ts is emitted as dist/src/cli.js, the entrypoint.
    expect(tsconfigBuild).toMatch(/"rootDir":\s*"\."/);
    expect(ops(build, "COPY").join("\n")).toMatch(/tsconfig\.build\.json/);
  });

  it("runs with production dependencies only, the compiled CLI and proto/ (found by walking up)", () => {
    const runs = ops(runtime, "RUN").join("\n");
    expect(runs).toMatch(/npm ci --omit=dev/);
    expect(runs).not.toMatch(/npm (install|i) /);
    const copies = ops(runtime, "COPY");
    expect(copies).toContain(`--from=${build?.name} /build/dist ./dist`);
    expect(copies).toContain("proto ./proto");
    expect(ops(runtime, "WORKDIR")).toEqual(["/app"]);
    expect(ops(runtime, "ENTRYPOINT")[0]).toMatch(/"dist\/src\/cli\.js"/);
    expect(ops(runtime, "CMD")).toEqual(['["serve"]']);
  });

  it("runs as a numeric non-root user and declares the gRPC and HTTP ports", () => {
    const user = ops(runtime, "USER").at(-1);
    expect(user).toMatch(/^\d+:\d+$/);
    expect(Number(user?.split(":")[0])).toBeGreaterThan(0);
    expect(ops(runtime, "EXPOSE").join(" ").split(/\s+/).sort()).toEqual(["6000", "8080"]);
  });

  it("bakes in no secrets", () => {
    for (const stage of dockerfile.stages)
      for (const { op, args } of stage.instructions)
        if (op === "ENV" || op === "ARG")
          expect(args).not.toMatch(/TOKEN|PASSWORD|SECRET|CONNECTION_STRING|KEY=/i);
  });

  it("sends only the build's inputs as context (.dockerignore)", () => {
    const ignore = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(ignore[0]).toBe("*");
    const allowed = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    expect(allowed.sort()).toEqual([
      "package-lock.json",
      "package.json",
      "proto",
      "src",
      "tsconfig.build.json",
      "tsconfig.json",
    ]);
    // Everything COPY'd from the context is allowed by it.
    for (const stage of dockerfile.stages)
      for (const copy of ops(stage, "COPY").filter((c) => !c.startsWith("--from")))
        for (const source of copy.split(/\s+/).slice(0, -1))
          expect(allowed, source).toContain(source.replace(/\/$/, ""));
  });
});
