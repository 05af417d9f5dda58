// The crash test's naive variant: createPost as two plain writes (test/effects/naive-api.ts), in processes that are
// SIGKILLed and restarted under the same load and faults as the real API. Its counts drift, so the harness bites.
import { describe, expect, it } from 'vitest';
import { runCrashScenario, summarize } from './crash-harness.js';

describe('crash harness on a naive two-write createPost', () => {
  it('leaves postCount different from the number of posts after kill -9s and lost connections', async () => {
    const report = await runCrashScenario({ kind: 'naive', counts: { 'createPost:unkeyed': 400 }, minKills: 5 });
    console.info(summarize(report));
    expect(report.kills.length).toBeGreaterThanOrEqual(5);
    expect(report.kills.every((k) => k.inFlight > 0), 'every kill lands while requests are in flight').toBe(true);
    expect(report.faults.injected).toBeGreaterThan(0);
    expect(report.before.recount.drift).toBeGreaterThan(0);
  }, 300_000);
});
