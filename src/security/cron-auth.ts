// Cron functions answer only Vercel's scheduler, which sends `Authorization: Bearer $CRON_SECRET` (docs/deploy.md).
import { timingSafeEqual } from 'node:crypto';
import { readEnv, type Env } from '../env.js';

/** True when the request carries the cron secret; always false when CRON_SECRET is unset. */
export function isCronRequest(request: Request, env: Env = readEnv()): boolean {
  if (!env.CRON_SECRET) return false;
  const sent = Buffer.from(request.headers.get('authorization') ?? '');
  const expected = Buffer.from(`Bearer ${env.CRON_SECRET}`);
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}

/** The answer to anyone else: 401, saying nothing about the job. */
export function cronRefusal(): Response {
  return Response.json({ error: 'This endpoint is for the scheduler only.' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
}
