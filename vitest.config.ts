// Test runner settings: integration suites start real servers, so they get generous hook timeouts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Vite would load graphql's ESM build for our code while Node gives yoga its CommonJS build; two copies of
    // GraphQLError break instanceof, so typed errors get masked. Pin the one Node itself loads.
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
