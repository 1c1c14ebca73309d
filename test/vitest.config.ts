import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Lives under test/ so the top level keeps only the agreed files; package.json points at it.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    // Two cores, and many files measure real time against child processes (mock providers in their
    // own process, 8 Redis workers): one file at a time, so no test is starved by another.
    fileParallelism: false,
    testTimeout: 20_000,
  },
});
