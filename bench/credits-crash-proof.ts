// `npm run credits-crash-proof [-- --ops 5000]`: the credits crash proof at the size (4 API processes, 50
// wallets x 20 packages, 5,000 keyed sponsorships and withdrawals through the fault proxy, kill -9 of instances,
// then repair and verify); prints the report and writes bench/results/credits-crash-proof.json. Exit 1 on a violation.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runSponsorCrash } from '../test/credits/sponsor-crash.js';

const { values } = parseArgs({ options: { ops: { type: 'string', default: '5000' }, kills: { type: 'string', default: '8' } } });
const report = await runSponsorCrash({ ops: Number(values.ops), kills: Number(values.kills) });
const summary = { ...report, repair: report.repair.output, verify: report.verify.output, at: new Date().toISOString() };
console.log(JSON.stringify(summary, null, 2));
await writeFile(new URL('./results/credits-crash-proof.json', import.meta.url), `${JSON.stringify(summary, null, 2)}\n`);
process.exitCode = report.violations.length === 0 && report.verify.exitCode === 0 ? 0 : 1;
