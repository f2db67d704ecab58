import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The command line a user runs, with no build step: through tsx (`npm run cli`), or on Node's own
 * type stripping (`npm start`, which leaves no tsx child behind when npm passes on SIGTERM).
 */
export function cliArgs(args: readonly string[], runner: "tsx" | "node" = "tsx"): string[] {
  return runner === "tsx" ? ["--import", "tsx", "src/cli.ts", ...args] : ["src/cli.ts", ...args];
}

/** Runs the CLI to completion with exactly `env` (no inherited configuration). */
export function runCli(args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, cliArgs(args), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a long-running CLI command; `lines` collects stdout lines as they come. */
export function startCli(
  args: readonly string[],
  env: Record<string, string>,
  runner: "tsx" | "node" = "tsx",
) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, cliArgs(args, runner), {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  const lines: string[] = [];
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    lines.push(...parts);
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, lines, exited, stderr: () => stderr };
}
