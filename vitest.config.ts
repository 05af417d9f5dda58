// Test runner settings: integration suites start real servers, so they get generous hook timeouts. Two projects:
// "fast" is the everyday `npm test`; "long" holds the suites that kill processes, inject wire faults, fuzz for minutes,
// soak or drive a browser, and runs only in `npm run test:all` (what CI runs).
import { defineConfig } from 'vitest/config';

/** Suites of `npm run test:all` only: each takes 3-70 s on the 2-core machine, together more than the rest. */
export const LONG_SUITES = [
  'test/security/fuzz.test.ts', // thousands of generated calls per mutation
  'test/idempotency/*.faults.test.ts', // retrying clients through the wire-fault proxy
  'test/effects/crash.test.ts', // kill -9 of API processes, repair, verify
  'test/effects/naive-crash.test.ts', // the naive variant beside it, which must drift
  'test/credits/sponsor-crash.test.ts',
  'test/credits/payouts.test.ts', // senders killed -9 through lost provider replies
  'test/durability/kill.test.ts', // kill -9 of the database process
  'test/durability/retry.test.ts', // retryable writes across kill -9 and restart of the database process
  'test/live/reconnect.test.ts', // a subscriber cut off 10 times under 1,000 likes through 4 API processes (soak)
  'test/live/artifact.test.ts', // the built function streaming until its maxDuration
  'test/web/**/*.browser.test.ts', // Chromium
];

export default defineConfig({
  resolve: {
    // Vite would load graphql's ESM build for our code while Node gives yoga its CommonJS build; two copies of
    // GraphQLError break instanceof, so typed errors get masked. Pin the one Node itself loads.
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    projects: [
      // Three workers on two cores: these suites wait on sockets and child processes as much as they compute. Files
      // share a worker's module graph (no re-import per file, a third of the time): each suite starts its own API on
      // its own database and restores what it changes in process.env.
      { extends: true, test: { name: 'fast', include: ['test/**/*.test.ts'], exclude: LONG_SUITES, isolate: false, maxWorkers: 3 } },
      // One file at a time: each of these starts several processes and kills some, and a timing-sensitive soak must
      // not share the two cores with another.
      { extends: true, test: { name: 'long', include: LONG_SUITES, fileParallelism: false } },
    ],
  },
});
