// The credits crash proof (issue 16, invariant 5): API processes over one database process, reached through the
// fault proxy, get random keyed sponsorships and withdrawals between 50 wallets and 20 packages (pairs going opposite
// ways between the same accounts included) while some processes are SIGKILLed and replaced; a reader polls every
// balance throughout. Then `npm run repair -- --older-than 0` and `npm run verify`, and the checks: no negative
// balance ever read, conservation, one COMPLETED transfer per acknowledged sponsorship or withdrawal, keyed retries
// replayed. Reuses the effects crash harness's processes and its fault proxy (test/effects/).
import { randomBytes } from 'node:crypto';
import { signToken } from '../../src/auth/token.js';
import { creditPurchase } from '../../src/credits/credits.ops.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { insertPackage } from '../../src/packages/package.ops.js';
import { CRASH_FAULTS, runNpmScript, type ScriptRun } from '../effects/crash-harness.js';
import { startCrashRig } from '../effects/crash-processes.js';
import { SPONSOR, WITHDRAW } from './documents.js';

const JWT_SECRET = 'credits-crash-secret-that-is-long-enough-for-hs256';
const WALLETS = 50;
const PACKAGES = 20;
const FUNDS = 500;

export interface SponsorCrashReport {
  ops: number;
  instances: number;
  kills: number;
  loadMs: number;
  answers: Record<string, number>;
  faults: number;
  lowestBalanceRead: number;
  balanceReads: number;
  repair: ScriptRun;
  verify: ScriptRun;
  /** What contradicts an answer a client got, or an invariant: must be empty. */
  violations: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSponsorCrash(options: { ops: number; instances?: number; kills?: number; concurrency?: number }): Promise<SponsorCrashReport> {
  const { ops, instances = 4, kills = 5, concurrency = 24 } = options;
  const rig = await startCrashRig({
    kind: 'api',
    instances,
    dbName: `credits_crash_${randomBytes(4).toString('hex')}`,
    jwtSecret: JWT_SECRET,
    driverOptions: { minHeartbeatFrequencyMS: 10, serverSelectionTimeoutMS: 10_000, maxPoolSize: 8 },
    prepare: async (db, proxy) => {
      await ensureIndexes(db);
      for (let p = 0; p < PACKAGES; p++) {
        await insertPackage(db, { name: `pkg-${p}`, displayName: `pkg-${p}`, summary: 's', maintainerId: `wallet-${p}` });
      }
      for (let w = 0; w < WALLETS; w++) await creditPurchase(db, { id: `evt_crash_${w}`, userId: `wallet-${w}`, amount: FUNDS, created: new Date() });
      proxy.setFaults(CRASH_FAULTS);
    },
  });
  const { dbProcess, proxy, db, dbName, fleet } = rig;
  try {
    const tokens = await Promise.all(Array.from({ length: WALLETS }, (_, w) => signToken(`wallet-${w}`, { secret: JWT_SECRET })));

    // The reader: every balance, directly from the database, for as long as the load runs.
    let reading = true;
    let lowest = Infinity;
    let reads = 0;
    const reader = (async () => {
      while (reading) {
        for (const [collection, field] of [['users', 'credits'], ['packages', 'sponsorBalance']] as const) {
          for (const doc of await db.collection(collection).find({}, { projection: { [field]: 1 } }).toArray()) lowest = Math.min(lowest, (doc[field] as number | undefined) ?? 0);
        }
        reads += 1;
        // Often enough to catch a negative balance between writes, not so often that the reader is the load.
        await sleep(10);
      }
    })();

    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const plan = Array.from({ length: ops }, (_, i) => {
      const withdraw = random() < 0.4;
      const pkg = Math.floor(random() * PACKAGES);
      // A withdrawal is by the package's maintainer; half the sponsorships are the maintainer funding its own package,
      // so the two go opposite ways between the same wallet and package.
      const wallet = withdraw || random() < 0.5 ? pkg : Math.floor(random() * WALLETS);
      return { i, withdraw, pkg, wallet, amount: 1 + Math.floor(random() * 50), key: `crash-${i}-${randomBytes(4).toString('hex')}` };
    });
    const answers: Record<string, number> = {};
    const acknowledged = new Map<string, { kind: string; amount: number }>();
    const violations: string[] = [];
    let done = 0;
    let next = 0;
    const started = Date.now();

    /** Sends one keyed request to a random live instance until it gets a final answer (retrying with the same key). */
    const send = async (body: string, token: string, key: string) => {
      for (let attempt = 0; ; attempt++) {
        const urls = fleet.urls();
        const url = urls[Math.floor(Math.random() * urls.length)];
        if (url) {
          try {
            const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key }, body });
            const json = (await response.json()) as { data?: Record<string, any> | null; errors?: { extensions?: { code?: string } }[] };
            const code = json.errors?.[0]?.extensions?.code;
            if (response.status < 500 && code !== 'IN_PROGRESS' && code !== 'INTERNAL_SERVER_ERROR') return json;
          } catch {
            // killed mid-request or reset: the same key again
          }
        }
        await sleep(Math.min(50 * 2 ** attempt, 1000));
      }
    };

    const killer = (async () => {
      for (let k = 1; k <= kills; k++) {
        while (done < (ops * k) / (kills + 1)) await sleep(20);
        await fleet.kill9();
      }
    })();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < plan.length) {
          const step = plan[next++]!;
          const field = step.withdraw ? 'withdrawSponsorship' : 'sponsorPackage';
          const body = JSON.stringify({ query: step.withdraw ? WITHDRAW : SPONSOR, variables: { input: { packageName: `pkg-${step.pkg}`, amount: step.amount } } });
          const json = await send(body, tokens[step.wallet]!, step.key);
          const result = json.data?.[field];
          const outcome = (result?.__typename as string | undefined) ?? 'no result';
          answers[`${field}:${outcome}`] = (answers[`${field}:${outcome}`] ?? 0) + 1;
          if (outcome.endsWith('Success')) acknowledged.set(result.transfer.id as string, { kind: step.withdraw ? 'WITHDRAWAL' : 'SPONSORSHIP', amount: step.amount });
          else if (outcome !== 'InsufficientFundsError') violations.push(`${step.key}: ${JSON.stringify(json).slice(0, 200)}`);
          done += 1;
        }
      }),
    );
    await killer;
    const loadMs = Date.now() - started;
    reading = false;
    await reader;
    const faults = proxy.faults.length;
    await fleet.settle();

    // Keyed retries replay: a sample of the acknowledged requests sent again answers the same transfer, unapplied again.
    for (const step of plan.slice(0, 20)) {
      const body = JSON.stringify({ query: step.withdraw ? WITHDRAW : SPONSOR, variables: { input: { packageName: `pkg-${step.pkg}`, amount: step.amount } } });
      const json = await send(body, tokens[step.wallet]!, step.key);
      const result = json.data?.[step.withdraw ? 'withdrawSponsorship' : 'sponsorPackage'];
      if (result?.transfer && !acknowledged.has(result.transfer.id)) violations.push(`${step.key}: a retry answered a transfer never acknowledged`);
    }
    await fleet.stop();

    const env = { MONGODB_URI: dbProcess.uri, MONGODB_DB: dbName, LOG_LEVEL: 'fatal' };
    const repair = await runNpmScript('repair', ['--older-than', '0'], env);
    const verify = await runNpmScript('verify', [], env);

    // Exactly once: one COMPLETED transfer per acknowledged one, nothing else moved, nothing pending or reversed.
    const transfers = await db.collection('transfers').find({}).toArray();
    for (const t of transfers) {
      const ack = acknowledged.get(t._id as unknown as string);
      if (t.status !== 'COMPLETED') violations.push(`transfer ${String(t._id)} is ${t.status} after repair`);
      else if (!ack) violations.push(`transfer ${String(t._id)} COMPLETED but never acknowledged`);
      else if (ack.amount !== t.amount || ack.kind !== t.kind) violations.push(`transfer ${String(t._id)} differs from its answer`);
    }
    if (transfers.length !== acknowledged.size) violations.push(`${transfers.length} transfers for ${acknowledged.size} acknowledged`);
    // Conservation, by hand as well as by verify: every credit is in a wallet or a sponsor balance.
    const sum = async (collection: string, field: string) =>
      ((await db.collection(collection).aggregate([{ $group: { _id: null, total: { $sum: { $ifNull: [`$${field}`, 0] } } } }]).toArray())[0]?.total as number | undefined) ?? 0;
    const held = (await sum('users', 'credits')) + (await sum('packages', 'sponsorBalance'));
    if (held !== WALLETS * FUNDS) violations.push(`conservation: ${held} held for ${WALLETS * FUNDS} credited`);
    if (lowest < 0) violations.push(`a negative balance was read during the load: ${lowest}`);
    return { ops, instances, kills, loadMs, answers, faults, lowestBalanceRead: lowest, balanceReads: reads, repair, verify, violations };
  } finally {
    await rig.close();
  }
}
