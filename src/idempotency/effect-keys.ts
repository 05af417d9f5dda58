// Pieces the ops use to record an idempotency effectKey in the same write as the effect it guards.

/**
 * How many effectKeys a document keeps per kind of effect (views of a post, posts counted on a package). A retry
 * whose key was pushed out by this many later keyed effects on the same document would apply again; the request
 * layer answers almost every retry before it gets here (docs/idempotency.md, "Remaining windows").
 */
export const RECENT_EFFECT_KEYS = 1000;

/** Update-pipeline expression: the array in `field` with `key` appended, only its last RECENT_EFFECT_KEYS entries kept. */
export function appendRecentKey(field: string, key: string): Record<string, unknown> {
  // $literal: the key is data and must never be read as a field path or an operator.
  return { $slice: [{ $concatArrays: [{ $ifNull: [`$${field}`, []] }, [{ $literal: key }]] }, -RECENT_EFFECT_KEYS] };
}
