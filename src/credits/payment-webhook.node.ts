// The payment webhook on node:http (the dev server, tests, the benchmark): the same Web handler the Vercel function
// exports, fed a Web Request built from the Node request, so the local path and the deployed one run the same code.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getReadyDb } from '../db/client.js';
import { paymentsWebhookSecret } from '../env.js';
import { logger } from '../logger.js';
import { handlePaymentWebhook } from './payment-webhook.js';

export const PAYMENT_WEBHOOK_PATH = '/api/webhooks/payments';

export async function servePaymentWebhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
      method: req.method,
      headers,
      ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
    });
    const response = await handlePaymentWebhook(request, await getReadyDb(), paymentsWebhookSecret());
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    logger.error({ err: error }, 'payment webhook failed');
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Unexpected error.' }));
  }
}
