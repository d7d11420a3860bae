import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.spec.ts', 'tests/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.jasmin-venv/**', '.dev/**'],
    globalSetup: ['tests/support/global-setup.ts'],
    setupFiles: ['tests/support/setup-keyring.ts'],
    // End-to-end files share one Temporal server and its task queues: run files one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
