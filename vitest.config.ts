import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers (Prometheus, gRPC, HTTPS fakes); two cores do not
    // like many of those at once.
    maxWorkers: 2,
  },
});
