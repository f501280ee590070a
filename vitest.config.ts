import { defineConfig } from 'vitest/config';

const generated = ['**/node_modules/**', '**/data/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['**/*.test.ts'],
          exclude: [...generated, '**/*.int.test.ts', '**/*.e2e.test.ts', '**/*.resilience.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['**/*.int.test.ts'],
          exclude: generated,
          globalSetup: ['test/support/services-available.ts', 'test/support/template-database.ts'],
          testTimeout: 60_000,
          hookTimeout: 150_000,
          // Two cores: more parallel files only contend for them and for the shared services.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'e2e',
          sequence: { groupOrder: 2 },
          include: ['**/*.e2e.test.ts'],
          exclude: generated,
          globalSetup: ['test/support/template-database.ts'],
          testTimeout: 90_000,
          hookTimeout: 150_000,
          // A page on a loaded CI machine can take seconds to claim and render; the default
          // one-second poll then fails a correct page. Waiting longer costs nothing when it passes.
          expect: { poll: { timeout: 15_000 } },
          maxWorkers: 1,
        },
      },
      {
        test: {
          name: 'resilience',
          sequence: { groupOrder: 3 },
          // Each file starts its own Redis, Postgres or Mosquitto and kills them on purpose.
          include: ['test/resilience/**/*.resilience.test.ts'],
          exclude: generated,
          globalSetup: ['test/support/services-available.ts', 'test/support/template-database.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
