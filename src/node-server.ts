// A plain node:http server around the Yoga instance, for the dev server, the tests and the benchmark.
import { createServer, type Server } from 'node:http';
import { PAYMENT_WEBHOOK_PATH, servePaymentWebhook } from './credits/payment-webhook.node.js';
import { yoga } from './yoga.js';

/** Outside Vercel no proxy sets the client address or scheme: they come from the socket, client-sent values are dropped. */
export function createNodeServer(): Server {
  return createServer((req, res) => {
    delete req.headers['x-forwarded-for'];
    delete req.headers['x-forwarded-proto'];
    req.headers['x-real-ip'] = req.socket.remoteAddress ?? 'unknown';
    // The payment provider's webhook (api/webhooks/payments.ts on Vercel); everything else is the GraphQL API.
    if (req.url?.split('?')[0] === PAYMENT_WEBHOOK_PATH) return void servePaymentWebhook(req, res);
    void yoga(req, res);
  });
}
