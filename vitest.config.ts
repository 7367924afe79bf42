import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{shared,desktop,relay}/{src,test}/**/*.test.ts'],
    // Native modules (better-sqlite3, onnxruntime) and TF.js are safest in separate processes.
    pool: 'forks',
    // Model loads and child-process crash tests take seconds on these 2-core machines.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
