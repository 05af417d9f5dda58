// HTTP load through autocannon: a fixed number of requests over a fixed number of connections spread across instances.
import autocannon from 'autocannon';

export interface LoadRequest {
  /** Overrides the target URL's path (the baseline server serves several variants on one port). */
  path?: string;
  body: string;
  headers?: Record<string, string>;
}

/** What one response meant: an outcome key ("ok", "CONFLICT@v2", "error:...") and the retries the server reported. */
export interface Classified {
  outcome: string;
  retries?: number;
}

export interface LoadPlan {
  /** One URL per instance; autocannon gives connection i to urls[i % urls.length]. */
  urls: string[];
  connections: number;
  /** Exactly this many requests are sent; the run ends when all have answered (or timed out). */
  amount: number;
  /** The body of the index-th request issued (0 .. amount-1, in issue order across all connections). */
  request(index: number): LoadRequest;
  classify(status: number, body: string): Classified;
  /** Seconds before one request counts as timed out (default 30). */
  timeoutSeconds?: number;
}

export interface LoadResult {
  requests: number;
  durationMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts, which never reached classify. */
  transportErrors: number;
  retries: number;
  outcomes: Record<string, number>;
}

/** Runs one bounded load and tallies the classified outcomes; latency percentiles come from autocannon's histogram. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const outcomes: Record<string, number> = {};
  let retries = 0;
  let issued = 0;
  // Timed from the first request issued to the last response, not by autocannon's sample ticks.
  let firstIssued = 0;
  let lastAnswered = 0;
  const connections = Math.max(1, Math.min(plan.connections, plan.amount));
  const result = await autocannon({
    // autocannon accepts an array of URLs (connections are dealt round-robin); its type declaration only says string.
    url: plan.urls as unknown as string,
    connections,
    amount: plan.amount,
    timeout: plan.timeoutSeconds ?? 30,
    // autocannon notices the last response on its next sample tick; 50 ms instead of 1 s keeps short loads short.
    sampleInt: 50,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest(request) {
          if (issued === 0) firstIssued = performance.now();
          const next = plan.request(issued++ % plan.amount);
          return {
            ...request,
            ...(next.path === undefined ? {} : { path: next.path }),
            method: 'POST',
            headers: { ...request.headers, ...next.headers },
            body: next.body,
          };
        },
        onResponse(status, body) {
          lastAnswered = performance.now();
          const classified = plan.classify(status, body);
          outcomes[classified.outcome] = (outcomes[classified.outcome] ?? 0) + 1;
          retries += classified.retries ?? 0;
        },
      },
    ],
  });
  const durationMs = Math.max(lastAnswered - firstIssued, 0.001);
  const answered = Object.values(outcomes).reduce((sum, n) => sum + n, 0);
  return {
    requests: answered + result.errors,
    durationMs,
    rps: answered / (durationMs / 1000),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    transportErrors: result.errors,
    retries,
    outcomes,
  };
}
