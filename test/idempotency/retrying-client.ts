// A client that behaves like the mobile app the docs describe: one Idempotency-Key per intent, resent on every
// retry until an answer arrives; it also gives up on some attempts early, as a phone losing its connection does.
import http from 'node:http';

// node:http with keep-alive rather than fetch: the fault tests send thousands of requests from the test's own
// thread, and with fetch the whole test process used about 15% more CPU per intent (measured on recordView).
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Answer {
  status: number;
  /** The response body exactly as received. */
  text: string;
  body: any;
  replayed: boolean;
  attempts: number;
}

export interface RetryOptions {
  token?: string;
  /** Probability that an attempt is abandoned after 0-20 ms (the request keeps running on the server). */
  abandonRate?: number;
  maxAttempts?: number;
  deadlineMs?: number;
  random?: () => number;
}

export interface RetryStats {
  attempts: number;
  abandoned: number;
  /** Answers that were not final: IN_PROGRESS, masked errors, 5xx, network failures. */
  retried: Record<string, number>;
}

export function newRetryStats(): RetryStats {
  return { attempts: 0, abandoned: 0, retried: {} };
}

/**
 * Sends the mutation with the key until the answer is final: a typed result (success or error) or a GraphQL error
 * other than IN_PROGRESS / INTERNAL_SERVER_ERROR. Throws when maxAttempts or the deadline run out.
 */
export async function sendUntilAnswered(
  url: string,
  request: { query: string; variables?: Record<string, unknown> },
  key: string,
  stats: RetryStats,
  options: RetryOptions = {},
): Promise<Answer> {
  const { maxAttempts = 60, deadlineMs = 30_000, abandonRate = 0, random = Math.random } = options;
  const deadline = Date.now() + deadlineMs;
  const payload = JSON.stringify(request);
  for (let attempt = 1; attempt <= maxAttempts && Date.now() < deadline; attempt++) {
    stats.attempts++;
    const abandonAfterMs = random() < abandonRate ? Math.floor(random() * 20) : undefined;
    let outcome: string;
    try {
      const response = await post(url, payload, { 'idempotency-key': key, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) }, abandonAfterMs);
      if (response === 'abandoned') {
        stats.abandoned++;
        outcome = 'abandoned';
      } else {
        const body = JSON.parse(response.text);
        const code: unknown = body.errors?.[0]?.extensions?.code;
        if (response.status < 500 && code !== 'IN_PROGRESS' && code !== 'INTERNAL_SERVER_ERROR') {
          return { status: response.status, text: response.text, body, replayed: response.replayed, attempts: attempt };
        }
        outcome = typeof code === 'string' ? code : `HTTP ${response.status}`;
      }
    } catch (error) {
      outcome = `network: ${(error as Error).message}`;
    }
    stats.retried[outcome] = (stats.retried[outcome] ?? 0) + 1;
    // A real client waits Retry-After (whole seconds); polling faster keeps the tests short and changes nothing else.
    await sleep(outcome === 'IN_PROGRESS' ? 50 : 5 + Math.floor(random() * 20));
  }
  throw new Error(`no answer for key ${key} after ${maxAttempts} attempts or ${deadlineMs} ms`);
}

/** One POST; 'abandoned' when abandonAfterMs is given and the client hangs up after that long (the server carries on). */
function post(
  url: string,
  payload: string,
  headers: Record<string, string>,
  abandonAfterMs: number | undefined,
): Promise<{ status: number; text: string; replayed: boolean } | 'abandoned'> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode!, text: Buffer.concat(chunks).toString('utf8'), replayed: response.headers['idempotent-replayed'] === 'true' });
      });
      response.on('error', reject);
    });
    const timer =
      abandonAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            request.destroy();
            resolve('abandoned');
          }, abandonAfterMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(payload);
  });
}

/** Runs task(i) for i in [0, count) with at most `concurrency` running at once. */
export async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
