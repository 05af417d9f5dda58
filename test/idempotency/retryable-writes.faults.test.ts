// The database's half of exactly-once: with retryable writes the driver resends a write whose reply was lost with
// the same lsid + txnNumber, and the server (the embedded one, or a real primary through MONGODB_URI; the proxy
// dials the URI's first host, which must then be the primary) applies it only once. Faults here hit only updates.
import { Binary, MongoClient, type CommandStartedEvent, type Document } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { DRIVER_OPTIONS, FAULTS } from './faulty-api.js';
import { runPool } from './retrying-client.js';

const WRITES = 1000;
const CONCURRENCY = 16;
// Only updates are faulted, at four times the API tests' rates, so many writes lose their reply after applying.
const UPDATE_FAULTS = Object.fromEntries(Object.entries(FAULTS).map(([kind, rate]) => [kind, rate * 4]));

let proxy: FaultProxy;
let direct: MongoClient;
const dbName = uniqueDbName('retryable-writes');

beforeAll(async () => {
  proxy = await startFaultProxy({ target: getTestMongoUri(), faultable: (command) => command === 'update' });
  direct = new MongoClient(getTestMongoUri());
});
afterAll(async () => {
  await direct.close();
  await proxy.close();
});

interface Outcome {
  acknowledged: Set<number>;
  failed: Set<number>;
  /** How many times each write id ended up in the document. */
  applied: Map<number, number>;
  counter: number;
}

/** Sends WRITES updates, each `$inc` the counter and `$push` its id; `resend` repeats a failed write as a new one. */
async function runWrites(docId: string, options: { retryWrites: boolean; resend: boolean; onCommand?: (e: CommandStartedEvent) => void }): Promise<Outcome> {
  await direct.db(dbName).collection<Document>('counters').insertOne({ _id: docId as never, n: 0, ids: [] });
  const client = new MongoClient(proxy.uri({ ...DRIVER_OPTIONS, retryWrites: options.retryWrites }), { monitorCommands: true });
  if (options.onCommand) client.on('commandStarted', options.onCommand);
  const counters = client.db(dbName).collection<Document>('counters');
  const acknowledged = new Set<number>();
  const failed = new Set<number>();
  proxy.setFaults(UPDATE_FAULTS);
  try {
    await runPool(WRITES, CONCURRENCY, async (id) => {
      for (let attempt = 0; attempt < (options.resend ? 20 : 1); attempt++) {
        try {
          await counters.updateOne({ _id: docId as never }, { $inc: { n: 1 }, $push: { ids: id } as Document });
          acknowledged.add(id);
          failed.delete(id);
          return;
        } catch {
          failed.add(id);
        }
      }
    });
  } finally {
    proxy.setFaults({ dropRequest: 0, cutRequest: 0, dropReply: 0, cutReply: 0 });
    await client.close();
  }
  const doc = (await direct.db(dbName).collection<Document>('counters').findOne({ _id: docId as never }))!;
  const applied = new Map<number, number>();
  for (const id of doc.ids as number[]) applied.set(id, (applied.get(id) ?? 0) + 1);
  return { acknowledged, failed, applied, counter: doc.n as number };
}

function sessionKey(lsid: unknown, txnNumber: unknown): string {
  const id = (lsid as { id?: unknown } | undefined)?.id;
  return `${id instanceof Binary ? Buffer.from(id.buffer).toString('hex') : String(id)}:${Number(txnNumber)}`;
}

it('applies every acknowledged retryable write exactly once, including those whose first reply was lost', async () => {
  const writeOfAttempt = new Map<string, number>();
  const faultsFrom = proxy.faults.length;
  const outcome = await runWrites('retryable', {
    retryWrites: true,
    resend: false,
    onCommand: (event) => {
      if (event.commandName !== 'update') return;
      const update = (event.command.updates as Document[])[0]!;
      writeOfAttempt.set(sessionKey(event.command.lsid, event.command.txnNumber), (update.u as Document).$push.ids as number);
    },
  });
  // The exact invariants: $inc and $push of one write land together; nothing is applied twice; every acknowledged
  // write is applied once; a write that failed even after the driver's retry was applied once or not at all.
  expect(outcome.counter).toBe([...outcome.applied.values()].reduce((a, b) => a + b, 0));
  expect([...outcome.applied.values()].every((times) => times === 1)).toBe(true);
  for (const id of outcome.acknowledged) expect(outcome.applied.get(id)).toBe(1);
  expect(outcome.counter).toBeGreaterThanOrEqual(outcome.acknowledged.size);
  expect(outcome.counter).toBeLessThanOrEqual(outcome.acknowledged.size + outcome.failed.size);
  expect(outcome.acknowledged.size + outcome.failed.size).toBe(WRITES);

  // The case that needs the server's deduplication: the first attempt was applied, its reply lost, and the driver's
  // retry (same lsid + txnNumber) was acknowledged. Each such write is in the document once, not twice.
  const replyLost = proxy.faults.slice(faultsFrom).filter((f) => (f.kind === 'dropReply' || f.kind === 'cutReply') && f.lsid !== undefined);
  const deduplicated = replyLost.map((f) => writeOfAttempt.get(`${f.lsid}:${f.txnNumber}`)).filter((id): id is number => id !== undefined && outcome.acknowledged.has(id));
  console.info(
    `retryable writes: ${outcome.acknowledged.size} acknowledged, ${outcome.failed.size} failed, counter ${outcome.counter}, ` +
      `${replyLost.length} replies lost after applying, ${deduplicated.length} of those acknowledged by the deduplicated retry`,
  );
  expect(deduplicated.length).toBeGreaterThan(0);
  for (const id of deduplicated) expect(outcome.applied.get(id)).toBe(1);
});

it('without retryable writes, resending a write whose reply was lost applies it twice (the test can fail)', async () => {
  const outcome = await runWrites('resent', { retryWrites: false, resend: true });
  const twice = [...outcome.applied.values()].filter((times) => times > 1).length;
  console.info(`resent without retryable writes: ${twice} writes applied more than once, counter ${outcome.counter} for ${WRITES} writes`);
  expect(twice).toBeGreaterThan(0);
  expect(outcome.counter).toBeGreaterThan(WRITES);
});
