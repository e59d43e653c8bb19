import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One worker: the wasm backend is single-threaded and the machine has 2 cores.
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // Memory tests (test/api/leaks.test.ts) collect garbage before they measure, so their bounds can be tight.
    execArgv: ['--expose-gc'],
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
