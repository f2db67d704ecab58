import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imageNodeFlags } from "../../bench/support/deployment-runtime.ts";

const DOCKERFILE = join(import.meta.dirname, "../../Dockerfile");
const scratch = mkdtempSync(join(tmpdir(), "image-flags-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function dockerfile(text: string): string {
  const file = join(scratch, `Dockerfile-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  return file;
}

describe("imageNodeFlags", () => {
  it("reads the shipped image's flags and script, and node accepts the flags", () => {
    const image = imageNodeFlags(DOCKERFILE);
    expect(image.script).toBe("dist/src/cli.js");
    // The V8 flag NODE_OPTIONS refuses, given where it is accepted; the bench starts both servers with it.
    expect(image.flags).toContain("--no-allocation-site-pretenuring");
    // An unknown or misspelt flag makes node refuse to start ("bad option"): this would throw.
    expect(execFileSync(process.execPath, [...image.flags, "-p", "1"], { encoding: "utf8" }).trim()).toBe(
      "1",
    );
  });

  it("takes the last ENTRYPOINT (the runtime stage's) and the words between node and the script", () => {
    const file = dockerfile(
      [
        "FROM a AS build",
        'ENTRYPOINT ["node", "build.js"]',
        "FROM b",
        'ENTRYPOINT ["node", "--x", "--y=1", "app.js", "--not-a-node-flag"]',
      ].join("\n"),
    );
    expect(imageNodeFlags(file)).toEqual({ flags: ["--x", "--y=1"], script: "app.js" });
  });

  it("names the problem when the ENTRYPOINT is missing, in shell form, or not node", () => {
    expect(() => imageNodeFlags(dockerfile('FROM a\nCMD ["serve"]\n'))).toThrow(/no ENTRYPOINT/);
    expect(() => imageNodeFlags(dockerfile("ENTRYPOINT node app.js\n"))).toThrow(/not in exec form/);
    expect(() => imageNodeFlags(dockerfile('ENTRYPOINT ["python3", "app.py"]\n'))).toThrow(
      /does not start node/,
    );
    expect(() => imageNodeFlags(dockerfile('ENTRYPOINT ["node", "--x"]\n'))).toThrow(/names no script/);
  });
});
