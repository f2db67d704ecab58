import { readFileSync, writeFileSync } from "node:fs";
import { configurationMarkdown, withConfigurationSection } from "../config/docs.ts";

const USAGE = `usage: keda-llm-scaler config-docs [--write-readme FILE]

Prints the configuration tables (Markdown) generated from the settings' declarations.
--write-readme FILE   replace the configuration section of FILE (README.md) in place
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const writeAt = argv.indexOf("--write-readme");
  if (writeAt < 0) {
    if (argv.length > 0) {
      process.stderr.write(`unexpected argument ${JSON.stringify(argv[0])}\n\n${USAGE}`);
      return 2;
    }
    process.stdout.write(`${configurationMarkdown()}\n`);
    return 0;
  }
  const file = argv[writeAt + 1];
  if (!file) {
    process.stderr.write(`--write-readme needs a file name\n\n${USAGE}`);
    return 2;
  }
  const before = readFileSync(file, "utf8");
  const after = withConfigurationSection(before);
  if (after !== before) writeFileSync(file, after);
  process.stdout.write(
    after === before
      ? `${file}: configuration section already current\n`
      : `${file}: configuration section updated\n`,
  );
  return 0;
}
