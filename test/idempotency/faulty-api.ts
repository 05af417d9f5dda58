// The fault-test harness: the real API reaching the test database through the fault proxy, the fault rates, and a
// wrapper that runs a workload under faults and checks faults of both kinds really happened.
import { ObjectId } from 'mongodb';
import { expect } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { getTestMongoUri } from '../helpers/db.js';
import { CREATE_PACKAGE, CREATE_POST } from '../helpers/documents.js';
import { startFaultProxy, type FaultProxy, type FaultRates } from '../helpers/fault-proxy.js';
import type { RetryStats } from './retrying-client.js';

// 2,000 intents per mutation (IDEMPOTENCY_FAULT_COUNT changes it for a quick or a long local run).
export const INTENTS = Number(process.env.IDEMPOTENCY_FAULT_COUNT ?? 2000);
export const CONCURRENCY = 16;
// Per database command the proxy may fault (every command but handshakes and monitoring): 2.5% in all, 1.5% of
// them after the server applied the request. Over 2,000 intents that is a few hundred faults per test.
export const FAULTS: FaultRates = { dropRequest: 0.005, cutRequest: 0.005, dropReply: 0.01, cutReply: 0.005 };
const NO_FAULTS: FaultRates = { dropRequest: 0, cutRequest: 0, dropReply: 0, cutReply: 0 };
// Share of attempts the client abandons after 0-20 ms, as a phone losing its connection; the server carries on.
export const ABANDON_RATE = 0.05;

/**
 * Driver settings through the proxy. A reset makes the driver mark the server unknown, clear its pool and wait for
 * its monitor: checking again within 10 ms (default 500 ms) keeps faults from stalling every request for half a
 * second, and a small pool bounds how many connections each fault makes it redial.
 */
export const DRIVER_OPTIONS = { minHeartbeatFrequencyMS: 10, serverSelectionTimeoutMS: 10_000, maxPoolSize: 8 };

export interface FaultyApi {
  api: TestApi;
  proxy: FaultProxy;
  author: string;
  newPost(title: string): Promise<ObjectId>;
  /** Runs fn with the proxy faulting, then checks that faults before and after the server applied a request happened. */
  underFaults(label: string, fn: () => Promise<void>, stats?: RetryStats): Promise<void>;
  close(): Promise<void>;
}

/**
 * The API on a fresh database, reaching it through a fault proxy (not faulting until underFaults), with one package
 * "faulty". (In a child process the API would get a core of its own, but the extra hops cost as much CPU as they
 * free: measured, a run takes as long, so the project's ordinary in-process startApi is used.)
 */
export async function startFaultyApi(prefix: string): Promise<FaultyApi> {
  const proxy = await startFaultProxy({ target: getTestMongoUri() });
  const api = await startApi(prefix, {
    MONGODB_URI: proxy.uri(DRIVER_OPTIONS),
    // Leases end quickly so a key whose holder failed without giving it back is retried within the test's time.
    IDEMPOTENCY_LEASE_SECONDS: '2',
    RATE_LIMITS: 'off',
    DB_TRACE: '0',
  });
  const author = await api.token('author');
  await api.gql(CREATE_PACKAGE, { input: { name: 'faulty', summary: 's' } }, { token: author });
  return {
    api,
    proxy,
    author,
    async newPost(title) {
      const created = await api.gql(CREATE_POST, { input: { title, body: 'b', packageName: 'faulty' } }, { token: author });
      return new ObjectId(created.data!.createPost.post.id as string);
    },
    async underFaults(label, fn, stats) {
      const from = proxy.faults.length;
      proxy.setFaults(FAULTS);
      const started = Date.now();
      try {
        await fn();
      } finally {
        proxy.setFaults(NO_FAULTS);
      }
      const injected = proxy.faults.slice(from);
      const afterApply = injected.filter((f) => f.kind === 'dropReply' || f.kind === 'cutReply').length;
      console.info(
        `${label}: ${Date.now() - started} ms, ${injected.length} faults (${afterApply} after the server applied the request), ` +
          `fault seed ${proxy.seed}` +
          (stats ? `; ${stats.attempts} attempts, ${stats.abandoned} abandoned, retried after ${JSON.stringify(stats.retried)}` : ''),
      );
      expect(afterApply, 'faults after the server applied a request').toBeGreaterThan(0);
      expect(injected.length - afterApply, 'faults before the server applied a request').toBeGreaterThan(0);
    },
    async close() {
      await api.close();
      await proxy.close();
    },
  };
}
