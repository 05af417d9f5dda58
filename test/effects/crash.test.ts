// The crash proof in the suite (issue 10, point 4), at a size the suite can afford; `npm run crash-proof` runs it
// with 2,000 keyed and 2,000 unkeyed intents of each kind. API processes over one database process, faults on the
// wire to the database, kill -9 of API processes mid-load; after `npm run repair -- --older-than 0`: no drift by
// the harness's own recount nor by `npm run verify`, and exactly one effect per answered key.
import { describe, expect, it } from 'vitest';
import { loadProblems, runCrashScenario, summarize } from './crash-harness.js';

// Intents per kind and mode (deletes also create their posts first, keyed); CRASH_TEST_COUNT changes it.
const N = Number(process.env.CRASH_TEST_COUNT ?? 100);

describe('multi-document effects under kill -9 and lost connections', () => {
  it('end exact after repair, with exactly one effect per key', async () => {
    const report = await runCrashScenario({
      kind: 'api',
      counts: {
        'createPost:keyed': N,
        'createPost:unkeyed': N,
        'deletePost:keyed': N,
        'deletePost:unkeyed': N,
        'createPackage:keyed': N / 5,
        'createPackage:unkeyed': N / 5,
        'publishRelease:keyed': N / 5,
        'publishRelease:unkeyed': N / 5,
      },
      minKills: 5,
    });
    console.info(summarize(report));
    // The API really served the load under kills and faults (see loadProblems), then repair made it exact.
    expect(loadProblems(report)).toEqual([]);
    expect(report.repair?.exitCode, report.repair?.output).toBe(0);
    expect(report.after?.recount.differences).toEqual([]);
    expect(report.after?.verify.exitCode, report.after?.verify.output).toBe(0);
    expect(report.violations).toEqual([]);
  }, 300_000);
});
