// The raw-driver variant's load: the same atomic op called straight through the driver, no HTTP, at a fixed concurrency.
import type { Classified, LoadResult } from './load.js';

export interface DriverPlan {
  amount: number;
  concurrency: number;
  /** Stop issuing new operations after this long, whatever is left (default 120 s). */
  timeLimitMs?: number;
  op(index: number): Promise<Classified>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** `concurrency` workers take the next index until `amount` are done; autocannon has no mode for a function call. */
export async function runDriverLoop(plan: DriverPlan): Promise<LoadResult> {
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  let retries = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + (plan.timeLimitMs ?? 120_000);
  const worker = async () => {
    while (next < plan.amount && performance.now() < deadline) {
      const index = next++;
      const t0 = performance.now();
      let classified: Classified;
      try {
        classified = await plan.op(index);
      } catch (error) {
        classified = { outcome: `error:${(error as Error).message}` };
      }
      latencies.push(performance.now() - t0);
      outcomes[classified.outcome] = (outcomes[classified.outcome] ?? 0) + 1;
      retries += classified.retries ?? 0;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(plan.concurrency, plan.amount)) }, worker));
  const durationMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    durationMs,
    rps: latencies.length / (durationMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    transportErrors: 0,
    retries,
    outcomes,
  };
}
