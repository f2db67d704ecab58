import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { run } from "../../src/commands/explain.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

/** Shell words of one command line: double quotes group, a trailing backslash continues the line. */
function shellWords(command: string): string[] {
  const words: string[] = [];
  for (const match of command.replace(/\\\n/g, " ").matchAll(/"([^"]*)"|(\S+)/g))
    words.push(match[1] ?? match[2] ?? "");
  return words;
}

/** The `$ npx tsx src/cli.ts explain …` sessions of a document: their arguments and printed lines. */
function explainSessions(doc: string): { argv: string[]; printed: string[] }[] {
  const sessions: { argv: string[]; printed: string[] }[] = [];
  for (const [, block = ""] of doc.matchAll(/```\n(\$ npx tsx src\/cli\.ts explain[\s\S]*?)```/g)) {
    const lines = block.split("\n");
    let end = 0;
    while (lines[end]?.endsWith("\\")) end++;
    const command = lines.slice(0, end + 1).join("\n");
    const argv = shellWords(command.slice("$ npx tsx src/cli.ts explain".length));
    sessions.push({ argv, printed: lines.slice(end + 1).filter((line) => line.trim() !== "") });
  }
  return sessions;
}

describe("the explain sessions shown in docs/policy.md", () => {
  const sessions = explainSessions(read("docs/policy.md"));

  it("are found (both the HPA tolerance and the month-end example)", () => {
    expect(sessions.length).toBeGreaterThanOrEqual(2);
  });

  // A session may leave lines out (the first one omits the clock-dependent header), but every
  // line it shows must be printed today, in the same order.
  it.each(sessions.map((s, i) => [i, s] as const))(
    "session %i prints what the document shows",
    async (_i, s) => {
      let out = "";
      const code = await run(s.argv, {}, { out: (t) => (out += t), err: (t) => (out += t) });
      expect(code).toBe(0);
      const printed = out.split("\n");
      let at = 0;
      const missing: string[] = [];
      for (const line of s.printed) {
        const found = printed.indexOf(line, at);
        if (found < 0) missing.push(line);
        else at = found + 1;
      }
      expect(missing, `output was:\n${out}`).toEqual([]);
    },
  );
});
