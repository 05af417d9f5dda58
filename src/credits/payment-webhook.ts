// POST /api/webhooks/payments: the payment provider's signed events, delivered at least once and in any order. A bad
// or missing signature, a timestamp more than 300 s from the database's clock, a malformed body or an unknown type is
// refused with 400 and changes nothing; an accepted event credits its wallet exactly once per event id, forever.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Db } from 'mongodb';
import * as z from 'zod/mini';
import { databaseNow } from '../effects/repair.js';
import { creditPurchase } from './credits.ops.js';

/** How far the signed timestamp may be from the database's clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const MAX_BODY_BYTES = 16_384;
/** The largest single purchase: a wallet stays far below 2^31 (GraphQL's Int) for any plausible history. */
export const MAX_PURCHASE_AMOUNT = 100_000_000;

const EventSchema = z.object({
  id: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,100}$/, 'id is 1 to 100 letters, digits, "_" or "-"')),
  type: z.string().check(z.maxLength(100)),
  created: z.int().check(z.minimum(0)),
  data: z.unknown(),
});

const PurchaseSchema = z.object({
  userId: z.string().check(z.minLength(1), z.maxLength(200)),
  amount: z.int().check(z.minimum(1, 'amount must be a positive integer'), z.maximum(MAX_PURCHASE_AMOUNT)),
});

/** The `Payments-Signature` header for a body at a time: what the provider (and `npm run payments:simulate`) sends. */
export function signPayment(secret: string, body: string, timestamp: number): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The timestamp of a header whose v1 signature (any of them, as during a secret rotation) matches; null otherwise. */
export function verifyPaymentSignature(secret: string, body: string, header: string | null): number | null {
  if (!header || header.length > 1_000) return null;
  const parts = header.split(',').map((part) => part.trim().split('='));
  const t = parts.find(([key]) => key === 't')?.[1];
  if (!t || !/^[0-9]{1,12}$/.test(t)) return null;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const matches = parts
    .filter(([key, value]) => key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/i.test(value))
    .some(([, value]) => timingSafeEqual(Buffer.from(value!, 'hex'), expected));
  return matches ? Number(t) : null;
}

const refuse = (message: string) => Response.json({ error: message }, { status: 400 });

/** The whole webhook: verify, check the clock, validate, credit once; the HTTP adapters only pass the request. */
export async function handlePaymentWebhook(request: Request, db: Db, secret: string): Promise<Response> {
  if (request.method !== 'POST') return Response.json({ error: 'Use POST.' }, { status: 405, headers: { allow: 'POST' } });
  const body = await readBody(request);
  if (body === null) return refuse(`The body must be at most ${MAX_BODY_BYTES} bytes.`);
  const timestamp = verifyPaymentSignature(secret, body, request.headers.get('payments-signature'));
  if (timestamp === null) return refuse('Missing or bad Payments-Signature.');
  // The database's clock, not this instance's: a skewed instance can neither admit a replay nor refuse a fresh event.
  const now = (await databaseNow(db)).getTime() / 1000;
  if (Math.abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS) return refuse(`The signature's timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} s from now.`);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return refuse('The body is not JSON.');
  }
  const event = EventSchema.safeParse(json);
  if (!event.success) return refuse(`Malformed event: ${event.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (event.data.type !== 'credits.purchased') return refuse(`Unknown event type "${event.data.type.slice(0, 100)}".`);
  const purchase = PurchaseSchema.safeParse(event.data.data);
  if (!purchase.success) return refuse(`Malformed event data: ${purchase.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  await creditPurchase(db, { id: event.data.id, ...purchase.data, created: new Date(event.data.created * 1000) });
  return Response.json({ received: true });
}

/** The raw body as text (the signature covers its exact bytes), or null when it is larger than the limit. */
async function readBody(request: Request): Promise<string | null> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) return null;
  const bytes = new Uint8Array(await request.arrayBuffer());
  return bytes.byteLength > MAX_BODY_BYTES ? null : new TextDecoder().decode(bytes);
}
