import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The dependency direction is a design: policy/ is pure (the spec, the schedule language and the
 * readings, nothing that does I/O), readings/ is the shared module both sides import, sources/
 * never reaches into policy/, the simulator never into the server, and no file imports itself
 * round a cycle. TypeScript 7 has no compiler API to ask, so the imports are read from the text.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SRC = join(ROOT, "src");

interface Import {
  /** As written: "../config/spec.ts", "luxon", "node:fs". */
  readonly specifier: string;
  /** For relative imports: the imported file, relative to src/ ("config/spec.ts"). */
  readonly target?: string;
  /** `import type` / `export type`, or every named specifier marked `type`: erased at run time. */
  readonly typeOnly: boolean;
  readonly line: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Statements `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`. */
const STATIC = /^[ \t]*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

function allNamedAreTypes(clause: string): boolean {
  const braces = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (!braces?.[1]) return false;
  const names = braces[1]
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return names.length > 0 && names.every((name) => name.startsWith("type "));
}

function importsOf(file: string, text: string): Import[] {
  const found: Import[] = [];
  const add = (specifier: string, typeOnly: boolean, index: number) => {
    const target = specifier.startsWith(".")
      ? relative(SRC, resolve(dirname(file), specifier))
          .split("\\")
          .join("/")
      : undefined;
    found.push({ specifier, typeOnly, line: lineOf(text, index), ...(target ? { target } : {}) });
  };
  for (const m of text.matchAll(STATIC))
    add(m[4] as string, m[2] !== undefined || allNamedAreTypes(m[3] ?? ""), m.index);
  for (const m of text.matchAll(SIDE_EFFECT)) add(m[1] as string, false, m.index);
  for (const m of text.matchAll(DYNAMIC)) add(m[1] as string, false, m.index);
  return found;
}

const files = new Map(
  sourceFiles(SRC).map((path) => {
    const name = relative(SRC, path).split("\\").join("/");
    return [name, importsOf(path, readFileSync(path, "utf8"))] as const;
  }),
);

const folderOf = (name: string) => name.split("/")[0] as string;

/** What `file` may import, or why not. Undefined: allowed. */
function violation(file: string, imported: Import): string | undefined {
  const from = folderOf(file);
  const to = imported.target === undefined ? undefined : folderOf(imported.target);
  const external = imported.target === undefined;
  if (from === "policy") {
    if (external)
      return imported.specifier === "luxon"
        ? undefined
        : `policy/ is pure: ${imported.specifier} is neither luxon nor part of the spec or the readings`;
    if (to === "policy" || to === "readings") return undefined;
    if (imported.target === "config/schedule.ts") return undefined;
    if (imported.target === "config/spec.ts")
      return imported.typeOnly ? undefined : "policy/ may import config/spec.ts for its types only";
    return `policy/ may import only the spec's types, config/schedule.ts and readings/, not ${imported.target}`;
  }
  if (from === "readings" && to !== "readings")
    return `readings/ is the shared module and imports nothing outside itself, not ${imported.specifier}`;
  if (from === "sources" && to === "policy")
    return "sources/ never imports policy/ (readings/ is the shared module)";
  if (from === "sim" && to === "server") return "sim/ never imports server/";
  return undefined;
}

/** Every cycle through relative imports, each as the files round it (first file repeated at the end). */
function cycles(graph: ReadonlyMap<string, readonly Import[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const imported of graph.get(file) ?? []) {
      const next = imported.target;
      if (next === undefined || !graph.has(next)) continue;
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  return found;
}

describe("module boundaries", () => {
  it("reads the imports of every source file", () => {
    expect(files.size).toBeGreaterThan(50);
    const decide = files.get("policy/decide.ts") ?? [];
    expect(decide.map((i) => i.target)).toContain("policy/fail-static.ts");
    expect(decide.find((i) => i.target === "config/spec.ts")?.typeOnly).toBe(true);
    const explain = files.get("commands/explain.ts") ?? [];
    expect(explain.map((i) => i.target)).toContain("sources/collect.ts");
  });

  it("tells an allowed import from a forbidden one", () => {
    const at = (specifier: string, typeOnly = false) => ({
      specifier,
      typeOnly,
      line: 1,
      ...(specifier.startsWith(".") ? { target: relative(SRC, resolve(SRC, "any", specifier)) } : {}),
    });
    expect(violation("policy/decide.ts", at("../config/spec.ts", true))).toBeUndefined();
    expect(violation("policy/decide.ts", at("../config/spec.ts"))).toMatch(/types only/);
    expect(violation("policy/decide.ts", at("../sources/collect.ts"))).toMatch(/not sources\/collect.ts/);
    expect(violation("policy/decide.ts", at("node:fs"))).toMatch(/pure/);
    expect(violation("policy/warm-floor.ts", at("luxon"))).toBeUndefined();
    expect(violation("readings/reading.ts", at("zod"))).toMatch(/shared module/);
    expect(violation("sources/plan.ts", at("../policy/decide.ts"))).toMatch(/never imports policy/);
    expect(violation("sources/plan.ts", at("../readings/reading.ts"))).toBeUndefined();
    expect(violation("sim/runner.ts", at("../server/metrics.ts"))).toMatch(/never imports server/);
    expect(violation("sim/runner.ts", at("../policy/decider.ts"))).toBeUndefined();
    const graph = new Map([
      ["a.ts", [{ specifier: "./b.ts", target: "b.ts", typeOnly: true, line: 1 }]],
      ["b.ts", [{ specifier: "./a.ts", target: "a.ts", typeOnly: false, line: 1 }]],
    ]);
    expect(cycles(graph)).toEqual([["a.ts", "b.ts", "a.ts"]]);
  });

  it("keeps policy/ pure, readings/ shared, sources/ out of policy/ and sim/ out of server/", () => {
    const broken: string[] = [];
    for (const [file, imports] of files)
      for (const imported of imports) {
        const why = violation(file, imported);
        if (why) broken.push(`src/${file}:${imported.line} imports ${imported.specifier}: ${why}`);
      }
    expect(broken).toEqual([]);
  });

  it("has no import cycle between files (type-only imports included)", () => {
    expect(cycles(files).map((cycle) => cycle.join(" → "))).toEqual([]);
  });
});
