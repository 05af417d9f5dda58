// `npm run payments:simulate -- <userId> <amount> [--url http://localhost:4000] [--event-id evt_…]`: sends one
// correctly signed `credits.purchased` event to the local server's payment webhook, as the provider would, and prints
// the answer. The secret is PAYMENTS_WEBHOOK_SECRET, or the development one `npm run dev` uses when it is unset.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { signPayment } from '../src/credits/payment-webhook.js';
import { paymentsWebhookSecret } from '../src/env.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { url: { type: 'string', default: `http://localhost:${process.env.PORT ?? 4000}` }, 'event-id': { type: 'string' } },
});
const [userId, amountText] = positionals;
const amount = Number(amountText);
if (!userId || !Number.isSafeInteger(amount) || amount <= 0) {
  console.error('usage: npm run payments:simulate -- <userId> <positive integer amount> [--url http://localhost:4000] [--event-id evt_…]');
  process.exit(2);
}
const created = Math.floor(Date.now() / 1000);
const body = JSON.stringify({ id: values['event-id'] ?? `evt_${randomBytes(12).toString('hex')}`, type: 'credits.purchased', created, data: { userId, amount } });
const response = await fetch(new URL('/api/webhooks/payments', values.url), {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'payments-signature': signPayment(paymentsWebhookSecret(), body, created) },
  body,
});
console.log(`${response.status} ${await response.text()}  (event ${JSON.parse(body).id})`);
process.exitCode = response.ok ? 0 : 1;
