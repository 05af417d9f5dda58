// A plain node:http server around the Yoga instance, for the dev server, the tests and the benchmark.
import { createServer, type Server } from 'node:http';
import { yoga } from './yoga.js';

/** Outside Vercel no proxy sets the client address, so it comes from the socket and client-sent values are dropped. */
export function createNodeServer(): Server {
  return createServer((req, res) => {
    delete req.headers['x-forwarded-for'];
    req.headers['x-real-ip'] = req.socket.remoteAddress ?? 'unknown';
    void yoga(req, res);
  });
}
