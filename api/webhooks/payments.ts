// Vercel function: the payment provider's webhook (docs/credits.md). Refuses to start in production without
// PAYMENTS_WEBHOOK_SECRET; the logic is src/credits/payment-webhook.ts, shared with the dev server and the tests.
import { handlePaymentWebhook } from '../../src/credits/payment-webhook.js';
import { getReadyDb } from '../../src/db/client.js';
import { assertStartupConfig, paymentsWebhookSecret } from '../../src/env.js';

assertStartupConfig();
paymentsWebhookSecret();

export async function POST(request: Request): Promise<Response> {
  return handlePaymentWebhook(request, await getReadyDb(), paymentsWebhookSecret());
}
