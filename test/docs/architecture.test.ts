import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");

describe("docs/architecture.md", () => {
  it("says why each package in package.json is there", () => {
    const manifest = JSON.parse(read("package.json"));
    const doc = read("docs/architecture.md");
    const table = doc.slice(doc.indexOf("## Dependencies"));
    const packages = [...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)];
    expect(packages.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });
});
