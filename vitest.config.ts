import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['src/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // each file starts its own dockercri; two cores are shared with dockerd and containerd
          maxWorkers: 3,
        },
      },
    ],
  },
});
