// The credits crash proof at suite size: 4 API processes, 50 wallets x 20 packages, random keyed sponsorships and
// withdrawals through the fault proxy with kill -9 of instances; `npm run credits-crash-proof` runs the 5,000.
import { expect, it } from 'vitest';
import { runSponsorCrash } from './sponsor-crash.js';

const OPS = Number(process.env.CREDITS_CRASH_OPS ?? 200);

it(`${OPS} sponsorships and withdrawals under kill -9 and lost connections: no negative read, conserved, once each`, async () => {
  const report = await runSponsorCrash({ ops: OPS, kills: 4 });
  console.info(JSON.stringify({ ...report, repair: report.repair.output, verify: report.verify.output }));
  expect(report.violations).toEqual([]);
  expect(report.lowestBalanceRead).toBeGreaterThanOrEqual(0);
  expect(report.balanceReads).toBeGreaterThan(5);
  expect(report.answers['sponsorPackage:SponsorPackageSuccess']).toBeGreaterThan(OPS / 10);
  expect(report.answers['withdrawSponsorship:WithdrawSponsorshipSuccess']).toBeGreaterThan(OPS / 20);
  expect(report.faults).toBeGreaterThan(0);
  expect(report.repair.exitCode, report.repair.output).toBe(0);
  expect(report.verify.exitCode, report.verify.output).toBe(0);
}, 300_000);
