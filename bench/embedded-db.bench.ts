// `npm run bench:db`: throughput/latency of updateOne({_id}, {$inc}) through the real driver against the embedded server.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { startEmbeddedDb } from '../src/embedded-db/server.js';

const OPS = Number(process.env.BENCH_OPS ?? 30_000);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 20);
const DOCS = 1000;

/** Child mode: serve until the parent closes our stdin. */
async function serve(): Promise<void> {
  const db = await startEmbeddedDb({ port: 0 });
  console.log(db.uri);
  process.stdin.resume();
  process.stdin.on('end', () => void db.stop().then(() => process.exit(0)));
}

async function startServerProcess(): Promise<{ uri: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const uri = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('mongodb://'));
      if (line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
  return { uri, child };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function run(uri: string, concurrency: number, ops: number): Promise<string> {
  const client = new MongoClient(uri, { maxPoolSize: Math.max(64, concurrency), minPoolSize: Math.min(concurrency, 64) });
  await client.connect();
  const coll = client.db('bench').collection<{ _id: number; n: number }>('counters');
  await coll.deleteMany({});
  await coll.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, n: 0 })));
  // Warm up connections and JIT before measuring.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => coll.updateOne({ _id: i % DOCS }, { $inc: { n: 1 } })));
  const latencies: number[] = [];
  const deadline = performance.now() + MAX_SECONDS * 1000;
  let issued = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (issued < ops && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      await coll.updateOne({ _id: i % DOCS }, { $inc: { n: 1 } });
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  await client.close();
  const rate = latencies.length / elapsed;
  return `concurrency ${String(concurrency).padStart(2)}: ${latencies.length} ops in ${elapsed.toFixed(2)} s = ${Math.round(rate)} ops/s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`;
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();
  console.log(`updateOne({_id}, {$inc}) x ${OPS} (max ${MAX_SECONDS}s per run), node ${process.version}`);
  const { uri, child } = await startServerProcess();
  try {
    console.log('server in a separate process:');
    for (const c of [1, 64]) console.log('  ' + (await run(uri, c, c === 1 ? Math.min(OPS, 5000) : OPS)));
  } finally {
    child.stdin!.end();
  }
  const inProcess = await startEmbeddedDb({ port: 0 });
  try {
    console.log('server in the same process as the client:');
    for (const c of [1, 64]) console.log('  ' + (await run(inProcess.uri, c, c === 1 ? Math.min(OPS, 5000) : OPS)));
  } finally {
    await inProcess.stop();
  }
  process.exit(0);
}

await main();
