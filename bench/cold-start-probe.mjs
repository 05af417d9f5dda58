// Cold-start probe, run as a fresh `node` process: imports the bundled Vercel handler, serves one recordView through
// it over node:http and prints when each step finished (ms since the process started), then exits.
import { createServer, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const [bundlePath, postId] = process.argv.slice(2);
const started = performance.now();
const { default: handler } = await import(pathToFileURL(bundlePath).href);
const imported = performance.now();

const server = createServer((req, res) => handler(req, res));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const body = JSON.stringify({
  query: 'mutation ($id: ID!) { recordView(postId: $id) { __typename ... on RecordViewSuccess { post { viewCount } } } }',
  variables: { id: postId },
});
const reply = await new Promise((resolve, reject) => {
  const req = request(
    { host: '127.0.0.1', port: server.address().port, path: '/api/graphql', method: 'POST', headers: { 'content-type': 'application/json' } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    },
  );
  req.on('error', reject);
  req.end(body);
});
const responded = performance.now();
const ok = reply.status === 200 && JSON.parse(reply.text).data?.recordView?.__typename === 'RecordViewSuccess';
process.stdout.write(`${JSON.stringify({ ok, started, imported, responded, reply: ok ? undefined : reply.text.slice(0, 300) })}\n`);
// Exit at once: the handler's MongoClient would otherwise keep the process alive.
process.exit(ok ? 0 : 1);
