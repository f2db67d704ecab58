import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configurationMarkdown } from "../../src/config/docs.ts";
import { serviceConfigGroups } from "../../src/config/service-config.ts";
import type { Setting } from "../../src/config/setting.ts";
import { scalerSpecGroups } from "../../src/config/spec.ts";

const DOC = new URL("../../docs/configuration.md", import.meta.url);

describe("docs/configuration.md", () => {
  it("is exactly what the settings' declarations generate (run `npm run docs:config` after changing them)", () => {
    expect(readFileSync(DOC, "utf8")).toBe(configurationMarkdown());
  });

  it("documents every setting, by env name and metadata key", () => {
    const doc = readFileSync(DOC, "utf8");
    const groupSets: Readonly<Record<string, Readonly<Record<string, Setting>>>>[] = [
      scalerSpecGroups,
      serviceConfigGroups,
    ];
    for (const groups of groupSets)
      for (const group of Object.values(groups))
        for (const setting of Object.values(group)) {
          expect(doc).toContain(`\`${setting.env}\``);
          if (setting.key) expect(doc).toContain(`\`${setting.key}\``);
        }
  });

  it("is what `config-docs` prints", () => {
    const printed = execFileSync(process.execPath, ["--import", "tsx", "src/cli.ts", "config-docs"], {
      cwd: new URL("../..", import.meta.url),
      encoding: "utf8",
    });
    expect(printed).toBe(configurationMarkdown());
  });
});
