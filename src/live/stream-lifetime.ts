// How long one subscription response stays open: under the function's maxDuration, so it ends cleanly, not killed.

/** Seconds kept free before maxDuration: the last event and the closing bytes must leave before Vercel stops the function. */
const MARGIN_SECONDS = 2;
/** Outside a function (dev server, tests) nothing stops a response; it is still cut now and then, like on Vercel. */
const UNBOUNDED_MS = 5 * 60 * 1000;

/**
 * LIVE_STREAM_SECONDS when set; else the function's maxDuration less a margin. scripts/build.ts writes the maxDuration
 * of .vc-config.json into the bundle as FUNCTION_MAX_DURATION_SECONDS, so the two cannot disagree.
 */
export function streamLifetimeMs(): number {
  const explicit = Number(process.env.LIVE_STREAM_SECONDS);
  if (explicit > 0) return explicit * 1000;
  const maxDuration = Number(process.env.FUNCTION_MAX_DURATION_SECONDS);
  if (maxDuration > 0) return Math.max(1, maxDuration - MARGIN_SECONDS) * 1000;
  return UNBOUNDED_MS;
}
