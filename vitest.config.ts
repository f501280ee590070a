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
          exclude: [...generated, '**/*.int.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['**/*.int.test.ts'],
          exclude: generated,
          globalSetup: ['test/support/services-available.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
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
          testTimeout: 90_000,
          // Room for startAllInOne's two minutes on shared cores.
          hookTimeout: 150_000,
          maxWorkers: 1,
        },
      },
    ],
  },
});
