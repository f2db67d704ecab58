#!/usr/bin/env node
/**
 * keda-llm-scaler: serve | check-config | explain | simulate | config-docs.
 * Each command lives in src/commands/<name>.ts and exports `run(argv)`; loading them lazily keeps
 * `serve` from paying for the simulator's imports.
 */
const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }
> = {
  serve: { summary: "run the gRPC external scaler (default)", load: () => import("./commands/serve.ts") },
  "check-config": {
    summary: "validate the environment (and a ScaledObject YAML) and print the resolved configuration",
    load: () => import("./commands/check-config.ts"),
  },
  explain: { summary: "print one decision and its reasons", load: () => import("./commands/explain.ts") },
  simulate: {
    summary: "replay a traffic trace through the policies",
    load: () => import("./commands/simulate.ts"),
  },
  "config-docs": {
    summary: "print the configuration table (Markdown) generated from the schema",
    load: () => import("./commands/config-docs.ts"),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `usage: keda-llm-scaler <command> [options]\n\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name = "serve", ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
