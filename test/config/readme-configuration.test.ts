import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { withConfigurationSection } from "../../src/config/docs.ts";
import { serviceConfigGroups } from "../../src/config/service-config.ts";
import type { Setting } from "../../src/config/setting.ts";
import { scalerSpecGroups } from "../../src/config/spec.ts";

const README = new URL("../../README.md", import.meta.url);

describe("README configuration table", () => {
  it("is exactly what the settings' declarations generate (run `npm run docs:config` after changing them)", () => {
    const readme = readFileSync(README, "utf8");
    expect(withConfigurationSection(readme)).toBe(readme);
  });

  it("documents every setting, by env name and metadata key", () => {
    const readme = readFileSync(README, "utf8");
    const groupSets: Readonly<Record<string, Readonly<Record<string, Setting>>>>[] = [
      scalerSpecGroups,
      serviceConfigGroups,
    ];
    for (const groups of groupSets)
      for (const group of Object.values(groups))
        for (const setting of Object.values(group)) {
          expect(readme).toContain(`\`${setting.env}\``);
          if (setting.key) expect(readme).toContain(`\`${setting.key}\``);
        }
  });
});
