// A fake payment provider's transfer API for dev and tests: `POST /transfers` with `Idempotency-Key`, deduplicated by
// key (a repeated key answers what the first did and pays nothing more), and told to fail (500 before paying), time
// out (pay, then answer too late), lose its reply (pay, then drop the connection) or refuse destinations (422).
// `npm run payouts:fake-provider -- [--port 4010] [--lose 0.2] [--fail 0] [--timeout 0]` runs it alone.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

export interface FakeProviderOptions {
  port?: number;
  /** Probability a call for a new key fails with 500 and pays nothing. */
  failRate?: number;
  /** Probability a call pays and then answers only after `timeoutMs` (longer than any sender waits). */
  timeoutRate?: number;
  /** Probability a call pays (if not paid yet) and then drops the connection without answering. */
  loseReplyRate?: number;
  /** Destinations refused with 422 (a definite refusal: the sender marks the payout FAILED and refunds it). */
  refuse?: (destination: string) => boolean;
  timeoutMs?: number;
}

export interface PaidTransfer {
  id: string;
  amount: number;
  destination: string;
  reference: string;
  /** Times this key was paid: always 1, the dedupe being the provider's promise; the test checks it. */
  payments: number;
}

export interface FakeProvider {
  url: string;
  /** Every key paid, in order. */
  paid: Map<string, PaidTransfer>;
  stats: { requests: number; lostReplies: number; failures: number; timeouts: number; refusals: number };
  setOptions(next: Partial<FakeProviderOptions>): void;
  close(): Promise<void>;
}

export async function startFakePayoutProvider(initial: FakeProviderOptions = {}): Promise<FakeProvider> {
  const options: FakeProviderOptions = { failRate: 0, timeoutRate: 0, loseReplyRate: 0, timeoutMs: 60_000, ...initial };
  const paid = new Map<string, PaidTransfer>();
  const stats = { requests: 0, lostReplies: 0, failures: 0, timeouts: 0, refusals: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== '/transfers') return answer(404, { error: 'not found' });
      stats.requests += 1;
      const key = req.headers['idempotency-key'];
      let body: { amount?: unknown; destination?: unknown; reference?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return answer(400, { error: 'body is not JSON' });
      }
      if (typeof key !== 'string' || !key || !Number.isSafeInteger(body.amount) || (body.amount as number) <= 0 || typeof body.destination !== 'string') {
        return answer(400, { error: 'Idempotency-Key, a positive integer amount and a destination are required' });
      }
      if (options.refuse?.(body.destination)) {
        stats.refusals += 1;
        return answer(422, { error: 'destination refused' });
      }
      const known = paid.get(key);
      if (!known && Math.random() < options.failRate!) {
        stats.failures += 1;
        return answer(500, { error: 'try again' });
      }
      const transfer = known ?? { id: `tr_${randomBytes(8).toString('hex')}`, amount: body.amount as number, destination: body.destination, reference: String(body.reference), payments: 1 };
      if (!known) paid.set(key, transfer);
      const roll = Math.random();
      if (roll < options.loseReplyRate!) {
        stats.lostReplies += 1;
        return res.socket?.destroy();
      }
      if (roll < options.loseReplyRate! + options.timeoutRate!) {
        stats.timeouts += 1;
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(200, { id: transfer.id, status: 'paid' });
        }, options.timeoutMs);
        timers.add(timer);
        return;
      }
      answer(200, { id: transfer.id, status: 'paid' });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paid,
    stats,
    setOptions: (next) => Object.assign(options, next),
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '4010' }, lose: { type: 'string', default: '0' }, fail: { type: 'string', default: '0' }, timeout: { type: 'string', default: '0' } },
  });
  const provider = await startFakePayoutProvider({
    port: Number(values.port),
    loseReplyRate: Number(values.lose),
    failRate: Number(values.fail),
    timeoutRate: Number(values.timeout),
  });
  console.log(`fake payout provider on ${provider.url} (set PAYOUT_PROVIDER_URL=${provider.url})`);
}
