import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Dawn device per test file; lavapipe on 2 cores is slow, and files share the CPU.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // No tuning profile from the user's cache may change what the tests run (profiles.ts); the
    // profile tests give their own store.
    env: { WGSL_VIT_PROFILES: 'off' },
  },
});
