// Runs one built function (.vercel/output/functions/<path>.func) on 127.0.0.1 the way Vercel's Node launcher runs it:
// reads the function's .vc-config.json, imports its handler and picks the handler shape by the launcher's own rules.
// A port of @vercel/node 24.0.0 dist/dev-server.mjs (src/serverless-functions/serverless-handler.mts and helpers.ts):
// - module.default is unwrapped up to 5 times;
// - an export named after an HTTP method, or `fetch`, makes it a Web handler: the Node request becomes a Request through
//   @edge-runtime/node-utils (origin from the Host header), and methods without an export answer 405;
// - otherwise a `(req, res)` function, behind Vercel's request helpers when shouldAddHelpers is true: they buffer the
//   whole body first and parse it lazily on `req.body` (400 "Invalid JSON" thrown on first read);
// - otherwise a server the module itself started with listen().
// Used by the artifact tests (test/artifact/) and the cold-start bench. CLI: node scripts/vercel-launcher.mjs <dir.func>
// prints one JSON line {"port":N,"loadedMs":M} once it accepts requests.
/* global process, console, performance, Buffer, URL, URLSearchParams, Headers, ReadableStream, Request */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { buildToNodeHandler } from '@edge-runtime/node-utils';

const HTTP_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Loads the function in `funcDir` and serves it on 127.0.0.1:`port` (0: any); resolves with the listening server. */
export async function launch(funcDir, { port = 0 } = {}) {
  const config = JSON.parse(await readFile(join(funcDir, '.vc-config.json'), 'utf8'));
  if (config.launcherType !== 'Nodejs') throw new Error(`${funcDir}: launcherType ${config.launcherType} is not the Node launcher`);
  // The launcher's waitUntil: @vercel/functions looks it up here (attachDatabasePool, waitUntil).
  const pending = new Set();
  Object.defineProperty(globalThis, Symbol.for('@vercel/request-context'), {
    enumerable: false,
    configurable: true,
    value: { get: () => ({ waitUntil: (promise) => pending.add(Promise.resolve(promise).finally(() => pending.delete(promise))) }) },
  });
  const userCode = await compileUserCode(resolve(funcDir, config.handler), { shouldAddHelpers: config.shouldAddHelpers === true, pending });
  const server = typeof userCode === 'function' ? http.createServer(userCode) : userCode;
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  return server;
}

async function compileUserCode(entrypoint, { shouldAddHelpers, pending }) {
  let server = null;
  const originalListen = http.Server.prototype.listen;
  http.Server.prototype.listen = function listen() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the launcher keeps the server the module started
    server = this;
    http.Server.prototype.listen = originalListen;
    return this;
  };
  let listener;
  try {
    listener = await import(pathToFileURL(entrypoint).href);
  } finally {
    if (server === null) http.Server.prototype.listen = originalListen;
  }
  for (let i = 0; i < 5; i++) if (listener.default) listener = listener.default;

  if (HTTP_METHODS.some((method) => typeof listener[method] === 'function') || typeof listener.fetch === 'function') {
    const toNode = buildToNodeHandler(
      {
        Headers,
        ReadableStream,
        Request: class extends Request {
          constructor(input, init) {
            super(input, init === undefined || typeof init === 'object' ? { duplex: 'half', ...init } : init);
          }
        },
        Uint8Array,
        FetchEvent: class {
          constructor() {
            this.waitUntil = (promise) => pending.add(promise);
          }
        },
      },
      { defaultOrigin: 'https://vercel.com' },
    );
    const byMethod = {};
    for (const method of HTTP_METHODS) {
      const handler = typeof listener.fetch === 'function' ? listener.fetch : listener[method];
      byMethod[method] = handler === undefined ? methodNotAllowed : toNode(handler);
    }
    return (req, res) => (byMethod[req.method ?? 'GET'] ?? methodNotAllowed)(req, res);
  }
  if (typeof listener === 'function') {
    return async (req, res) => {
      if (shouldAddHelpers && typeof listener.listen !== 'function') await addHelpers(req, res);
      return listener(req, res);
    };
  }
  if (server) return server;
  throw new Error("Can't detect way to handle request");
}

function methodNotAllowed(_req, res) {
  res.statusCode = 405;
  res.end();
}

/** Vercel's request helpers, the part that changes behaviour: the body is read before the function and parsed on first use. */
async function addHelpers(req, res) {
  const contentType = req.headers['content-type'];
  const body = contentType === undefined ? Buffer.from('') : await readBody(req);
  setLazyProp(req, 'query', () => Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams));
  setLazyProp(req, 'body', () => parseBody(body, contentType));
  res.status = (code) => {
    res.statusCode = code;
    return res;
  };
}

class ApiError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.statusCode = statusCode;
  }
}

function parseBody(body, contentType) {
  const type = (contentType ?? 'text/plain').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') {
    try {
      const text = body.toString();
      return text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(400, 'Invalid JSON');
    }
  }
  if (type === 'application/octet-stream') return body;
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(body.toString()));
  if (type === 'text/plain') return body.toString();
  return undefined;
}

function setLazyProp(req, prop, getter) {
  const opts = { configurable: true, enumerable: true };
  Object.defineProperty(req, prop, {
    ...opts,
    get: () => {
      const value = getter();
      Object.defineProperty(req, prop, { ...opts, writable: true, value });
      return value;
    },
    set: (value) => {
      Object.defineProperty(req, prop, { ...opts, writable: true, value });
    },
  });
}

async function readBody(req) {
  const chunks = [];
  if (req.method !== 'GET' && req.method !== 'HEAD') for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  // The helpers replay the buffered body to whoever reads the request stream afterwards.
  const replica = new PassThrough();
  const on = replica.on.bind(replica);
  const originalOn = req.on.bind(req);
  req.read = replica.read.bind(replica);
  req.on = req.addListener = (name, cb) => (name === 'data' || name === 'end' ? on(name, cb) : originalOn(name, cb));
  replica.end(body);
  return body;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const [funcDir, port] = process.argv.slice(2);
  if (!funcDir) {
    console.error('usage: node scripts/vercel-launcher.mjs <.vercel/output/functions/...func> [port]');
    process.exit(2);
  }
  const server = await launch(funcDir, { port: Number(port ?? 0) });
  // loadedMs: process start to accepting requests (Node boot plus importing the function), for the cold-start bench.
  process.stdout.write(`${JSON.stringify({ port: server.address().port, loadedMs: Math.round(performance.now() * 10) / 10 })}\n`);
}
