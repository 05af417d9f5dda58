// A plain node:http server around the Yoga instance, for the dev server, the tests and the benchmark.
import { createServer, type Server } from 'node:http';
import { PAYMENT_WEBHOOK_PATH, servePaymentWebhook } from './credits/payment-webhook.node.js';
import { serveWebFile } from './http/web-site.js';
import { yoga } from './yoga.js';

/** With webDir, also the web page. Outside Vercel no proxy sets the client address or scheme: they come from the socket, client-sent values are dropped. */
export function createNodeServer({ webDir }: { webDir?: string } = {}): Server {
  return createServer(async (req, res) => {
    delete req.headers['x-forwarded-for'];
    delete req.headers['x-forwarded-proto'];
    req.headers['x-real-ip'] = req.socket.remoteAddress ?? 'unknown';
    // The payment provider's webhook (api/webhooks/payments.ts on Vercel); everything else is the GraphQL API.
    if (req.url?.split('?')[0] === PAYMENT_WEBHOOK_PATH) return void servePaymentWebhook(req, res);
    // The web page (web/dist) when asked for: every GET outside /api/ (Vercel serves the same files statically).
    if (webDir && (await serveWebFile(req, res, webDir))) return;
    void yoga(req, res);
  });
}
