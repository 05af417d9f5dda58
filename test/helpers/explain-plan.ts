// Reading an explain() plan the same way whichever layout the server returns (classic stages, or 7.0+ slot-based
// plans nesting them under queryPlan), so the embedded-db tests pass unchanged against a real mongod.

/** Every string value under `key` anywhere in the plan, in document order. */
function valuesOf(plan: unknown, key: 'stage' | 'indexName'): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (k === key && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(plan);
  return out;
}

/** Every stage name in a winning plan. */
export const planStages = (plan: unknown): string[] => valuesOf(plan, 'stage');

/** Every index a winning plan reads. */
export const planIndexNames = (plan: unknown): string[] => valuesOf(plan, 'indexName');
