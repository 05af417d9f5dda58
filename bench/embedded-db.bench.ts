// `npm run bench:db`: throughput/latency of updateOne({_id}, {$inc}) through the real driver against the embedded server.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { BSON, MongoClient } from 'mongodb';
import { startEmbeddedDb } from '../src/embedded-db/server.js';

const OPS = Number(process.env.BENCH_OPS ?? 30_000);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 20);
const DOCS = 1000;

/** Child mode: serve until the parent closes our stdin; answer "cpu" lines with our CPU time in µs. */
async function serve(): Promise<void> {
  const db = await startEmbeddedDb({ port: 0 });
  console.log(db.uri);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (line: string) => {
    if (line.includes('cpu')) {
      const u = process.cpuUsage();
      console.log(`cpu ${u.user + u.system}`);
    }
  });
  process.stdin.on('end', () => void db.stop().then(() => process.exit(0)));
}

/** CPU time (µs) the server process has used so far; wall-clock rates are unreliable on a shared machine. */
function serverCpu(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      const m = /cpu (\d+)/.exec(chunk.toString());
      if (m) {
        child.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stdin!.write('cpu\n');
  });
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

async function run(uri: string, concurrency: number, ops: number, child?: ChildProcess): Promise<string> {
  const client = new MongoClient(uri, { maxPoolSize: Math.max(64, concurrency), minPoolSize: Math.min(concurrency, 64) });
  await client.connect();
  const coll = client.db('bench').collection<{ _id: number; n: number }>('counters');
  await coll.deleteMany({});
  await coll.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: i, n: 0 })));
  // Warm up connections and JIT before measuring.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => coll.updateOne({ _id: i % DOCS }, { $inc: { n: 1 } })));
  const latencies: number[] = [];
  const serverCpuBefore = child ? await serverCpu(child) : 0;
  const cpuBefore = process.cpuUsage();
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
  const cpu = process.cpuUsage(cpuBefore);
  const serverCpuUsed = child ? (await serverCpu(child)) - serverCpuBefore : 0;
  latencies.sort((a, b) => a - b);
  await client.close();
  const rate = latencies.length / elapsed;
  const clientUs = (cpu.user + cpu.system) / latencies.length;
  let line = `concurrency ${String(concurrency).padStart(2)}: ${latencies.length} ops in ${elapsed.toFixed(2)} s = ${Math.round(rate)} ops/s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`;
  if (child) {
    const serverUs = serverCpuUsed / latencies.length;
    // With a core each, the busier side bounds throughput; this is what an otherwise idle 2-core machine would reach.
    line += `; CPU per op: server ${serverUs.toFixed(0)} µs, client ${clientUs.toFixed(0)} µs => ~${Math.round(1e6 / Math.max(serverUs, clientUs))} ops/s with a core each`;
  } else {
    line += `; CPU per op (client + server): ${clientUs.toFixed(0)} µs`;
  }
  return line;
}

/**
 * The same updates as raw OP_MSG frames over 64 sockets, with no driver in the loop: shows what the server
 * itself sustains, since on a 2-core machine the driver's own CPU cost is usually the limit.
 */
async function runRaw(uri: string, concurrency: number, ops: number, child: ChildProcess): Promise<string> {
  const { hostname, port } = new URL(uri);
  const serverCpuBefore = await serverCpu(child);
  let sent = 0;
  let done = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    for (let c = 0; c < concurrency; c++) {
      const socket = net.connect(Number(port), hostname);
      socket.setNoDelay(true);
      const lsid = { id: new BSON.UUID() };
      let txnNumber = 0;
      let pending: Buffer = Buffer.alloc(0);
      const send = (): void => {
        if (sent >= ops) {
          socket.end();
          return;
        }
        const i = sent++;
        const body = BSON.serialize({
          update: 'counters',
          updates: [{ q: { _id: i % DOCS }, u: { $inc: { n: 1 } } }],
          ordered: true,
          lsid,
          txnNumber: BSON.Long.fromNumber(++txnNumber),
          $db: 'bench',
        });
        const head = Buffer.alloc(21);
        head.writeInt32LE(21 + body.length, 0);
        head.writeInt32LE(i + 1, 4);
        head.writeInt32LE(2013, 12);
        socket.write(Buffer.concat([head, body]));
      };
      socket.on('connect', send);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
          pending = pending.subarray(pending.readInt32LE(0));
          if (++done === ops) resolve();
          send();
        }
      });
    }
  });
  const elapsed = (performance.now() - started) / 1000;
  const serverUs = ((await serverCpu(child)) - serverCpuBefore) / ops;
  return `raw OP_MSG, concurrency ${concurrency}: ${ops} ops in ${elapsed.toFixed(2)} s = ${Math.round(ops / elapsed)} ops/s; server CPU per op ${serverUs.toFixed(0)} µs`;
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();
  console.log(`updateOne({_id}, {$inc}) x ${OPS} (max ${MAX_SECONDS}s per run), node ${process.version}`);
  const { uri, child } = await startServerProcess();
  try {
    console.log('server in a separate process:');
    for (const c of [1, 64]) console.log('  ' + (await run(uri, c, c === 1 ? Math.min(OPS, 5000) : OPS, child)));
    console.log('  ' + (await runRaw(uri, 64, OPS, child)));
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
