import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "json"],
    outputFile: { json: ".test-results.json" },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          // engines.test.ts runs per engine from `npm run test:engines`, which names the engine.
          exclude: process.env.BREACHKIT_TEST_ENGINE
            ? configDefaults.exclude
            : [...configDefaults.exclude, "test/integration/engines.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          // The lab is one set of containers: integration files take turns with it.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
