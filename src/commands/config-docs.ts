import { readFileSync, writeFileSync } from "node:fs";
import { configurationMarkdown } from "../config/docs.ts";

const USAGE = `usage: keda-llm-scaler config-docs [--write FILE]

Prints the configuration reference (Markdown) generated from the settings' declarations.
--write FILE   write it to FILE (docs/configuration.md) instead
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const writeAt = argv.indexOf("--write");
  if (writeAt < 0) {
    if (argv.length > 0) {
      process.stderr.write(`unexpected argument ${JSON.stringify(argv[0])}\n\n${USAGE}`);
      return 2;
    }
    process.stdout.write(configurationMarkdown());
    return 0;
  }
  const file = argv[writeAt + 1];
  if (!file) {
    process.stderr.write(`--write needs a file name\n\n${USAGE}`);
    return 2;
  }
  const after = configurationMarkdown();
  let before: string | undefined;
  try {
    before = readFileSync(file, "utf8");
  } catch {
    before = undefined;
  }
  if (after !== before) writeFileSync(file, after);
  process.stdout.write(after === before ? `${file}: already current\n` : `${file}: written\n`);
  return 0;
}
