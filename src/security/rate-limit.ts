// The rate-limit check every mutation resolver runs first: per caller (user, or client IP when anonymous) and,
// where configured, per client IP; over the limit it throws the mutation's RateLimitedError before any other write.
import type { Db } from 'mongodb';
import type { Viewer } from '../auth/token.js';
import { readEnv, type Env } from '../env.js';
import { RateLimitedError } from '../errors.js';
import { countCallInWindow } from './rate-limit.ops.js';
import { parseRateLimits, type RateLimitRuleName, type RateLimitRule, type RateLimits, rulesFor } from './rate-limit-rules.js';

let cached: { env: Env; limits: RateLimits } | undefined;

/** The limits in force, parsed once per environment (RATE_LIMITS is validated by readEnv). */
export function currentRateLimits(env: Env = readEnv()): RateLimits {
  if (cached?.env !== env) cached = { env, limits: parseRateLimits(env.RATE_LIMITS) };
  return cached.limits;
}

/**
 * Counts this call against the mutation's limits; throws RateLimitedError (RATE_LIMITED, retryAfterSeconds)
 * when a window is full. The per-caller window is counted first, then the per-IP one.
 */
export async function enforceRateLimit(
  ctx: { db: Db; viewer: Viewer | null; clientIp: string },
  mutation: RateLimitRuleName,
  now: number = Date.now(),
): Promise<void> {
  const { caller, ip } = rulesFor(currentRateLimits(), mutation);
  const ipSubject = `ip:${ctx.clientIp}`;
  if (caller) await consume(ctx.db, mutation, ctx.viewer ? `user:${ctx.viewer.id}` : ipSubject, caller, now);
  if (ip) await consume(ctx.db, `${mutation}@ip`, ipSubject, ip, now);
}

async function consume(db: Db, rule: string, subject: string, { limit, windowSeconds }: RateLimitRule, now: number): Promise<void> {
  const windowMs = windowSeconds * 1000;
  // Windows are aligned to the epoch, so every instance computes the same window (up to clock skew at its edges).
  const windowStart = Math.floor(now / windowMs) * windowMs;
  const windowEnd = windowStart + windowMs;
  const count = await countCallInWindow(db, `${rule}:${subject}:${windowStart / 1000}`, new Date(windowEnd));
  if (count > limit) {
    const retryAfterSeconds = Math.max(1, Math.ceil((windowEnd - now) / 1000));
    throw new RateLimitedError(`Too many ${rule} calls: at most ${limit} per ${windowSeconds} s. Retry in ${retryAfterSeconds} s.`, retryAfterSeconds);
  }
}
