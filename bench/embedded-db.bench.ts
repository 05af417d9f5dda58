// `npm run bench:db`: throughput of updateOne({_id}, {$inc}) with and without the journal, kill -9 durability, and the planner's speed-up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BSON, MongoClient, type Document } from 'mongodb';
import { CommandContext, runCommand } from '../src/embedded-db/commands.js';
import { startEmbeddedDb } from '../src/embedded-db/server.js';
import { Store } from '../src/embedded-db/store.js';

const OPS = Number(process.env.BENCH_OPS ?? 30_000);
const MAX_SECONDS = Number(process.env.BENCH_MAX_SECONDS ?? 20);
const DOCS = 1000;

/** Child mode: serve until the parent closes our stdin; answer "cpu" lines with our CPU time in µs. */
async function serve(dataDir: string | undefined): Promise<void> {
  const db = await startEmbeddedDb({ port: 0, dataDir });
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

async function startServerProcess(dataDir?: string): Promise<{ uri: string; child: ChildProcess }> {
  const args = [...process.execArgv, fileURLToPath(import.meta.url), '--serve', ...(dataDir ? ['--data-dir', dataDir] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
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

interface Measured {
  line: string;
  rate: number;
}

async function run(uri: string, concurrency: number, ops: number, child?: ChildProcess): Promise<Measured> {
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
  return { line, rate };
}

/**
 * The same updates as raw OP_MSG frames over 64 sockets, with no driver in the loop: shows what the server
 * itself sustains, since on a 2-core machine the driver's own CPU cost is usually the limit.
 */
async function runRaw(uri: string, concurrency: number, ops: number, child: ChildProcess): Promise<Measured> {
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
  return {
    line: `raw OP_MSG, concurrency ${concurrency}: ${ops} ops in ${elapsed.toFixed(2)} s = ${Math.round(ops / elapsed)} ops/s; server CPU per op ${serverUs.toFixed(0)} µs`,
    rate: ops / elapsed,
  };
}

/** Separate-process runs at concurrency 1 and 64 through the driver, then 64 raw sockets; `dataDir` turns the journal on. */
async function processRuns(dataDir?: string): Promise<{ c64: number; raw64: number }> {
  const { uri, child } = await startServerProcess(dataDir);
  try {
    console.log(dataDir ? 'server in a separate process, journal on (data dir, every write acknowledged after its group fsync):' : 'server in a separate process, in memory (no journal):');
    let c64 = 0;
    for (const c of [1, 64]) {
      const m = await run(uri, c, c === 1 ? Math.min(OPS, 5000) : OPS, child);
      console.log('  ' + m.line);
      if (c === 64) c64 = m.rate;
    }
    const raw = await runRaw(uri, 64, OPS, child);
    console.log('  ' + raw.line);
    return { c64, raw64: raw.rate };
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  }
}

const KILL_WRITERS = 16;

/**
 * kill -9 of `npm run db` (scripts/db.ts) at a random moment while 16 writers insert, then a restart: counts the
 * acknowledged inserts that are missing. `journal: false` runs the old snapshot-on-stop mode for comparison.
 */
async function killRounds(rounds: number, journal: boolean): Promise<{ acked: number; lost: number }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-kill-'));
  const start = (): Promise<{ uri: string; child: ChildProcess }> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/db.ts', '--data-dir', dataDir, ...(journal ? [] : ['--no-journal'])], {
      env: { ...process.env, DB_PORT: '0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('mongodb://'));
        if (line) resolve({ uri: line.trim(), child });
      });
      child.once('exit', (code) => reject(new Error(`scripts/db.ts exited with ${code}`)));
    });
  };
  const acked: string[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const { uri, child } = await start();
      const client = new MongoClient(uri, { maxPoolSize: KILL_WRITERS, serverSelectionTimeoutMS: 500 });
      const coll = client.db('bench').collection<{ _id: string }>('durability');
      let stop = false;
      const writers = Array.from({ length: KILL_WRITERS }, async (_, w) => {
        for (let i = 0; !stop; i++) {
          const _id = `${round}-${w}-${i}`;
          try {
            await coll.insertOne({ _id });
          } catch {
            return;
          }
          acked.push(_id);
        }
      });
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      stop = true;
      await Promise.all(writers);
      await client.close(true);
    }
    const { uri, child } = await start();
    const client = new MongoClient(uri);
    const present = await client.db('bench').collection<{ _id: string }>('durability').countDocuments({ _id: { $in: acked } });
    await client.close();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    return { acked: acked.length, lost: acked.length - present };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const PLANNER_DOCS = 100_000;

/**
 * find by an indexed field over 100 000 documents against the same find forced to a collection scan (hint
 * {$natural: 1}: what every non-_id query did before the planner). Timed at the command level, in process (the
 * server's own work, unaffected by driver and scheduling noise), and through the driver for reference.
 */
async function plannerRun(): Promise<Document> {
  const store = new Store();
  const ctx = new CommandContext(store, { address: '127.0.0.1:0', setName: 'bench', startedAt: new Date() });
  const conn = { id: 1 };
  for (let i = 0; i < PLANNER_DOCS; i += 10_000) {
    runCommand(ctx, { insert: 'planner', documents: Array.from({ length: 10_000 }, (_, j) => ({ _id: i + j, k: i + j, g: `group-${(i + j) % 1000}` })), $db: 'bench' }, conn);
  }
  runCommand(ctx, { createIndexes: 'planner', indexes: [{ key: { k: 1 }, name: 'k_1' }], $db: 'bench' }, conn);
  const time = (n: number, hint?: Document): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const k = Math.floor(Math.random() * PLANNER_DOCS);
      const reply = runCommand(ctx, { find: 'planner', filter: { k }, limit: 1, singleBatch: true, ...(hint ? { hint } : {}), $db: 'bench' }, conn);
      if ((reply.cursor as Document).firstBatch[0]?.k !== k) throw new Error('wrong document');
    }
    return (performance.now() - t0) / n;
  };
  time(200);
  time(2, { $natural: 1 });
  const indexedMs = time(2000);
  const scanMs = time(20, { $natural: 1 });
  const speedup = scanMs / indexedMs;
  console.log(
    `planner: find({k}) over ${PLANNER_DOCS} documents, server work per command: index ${(indexedMs * 1000).toFixed(0)} µs, collection scan ${scanMs.toFixed(1)} ms => ${speedup.toFixed(0)}x faster (target >= 50x: ${speedup >= 50 ? 'met' : 'MISSED'})`,
  );

  // Through the driver (a separate server process): includes a round trip, so the ratio is smaller.
  const { uri, child } = await startServerProcess();
  const client = new MongoClient(uri);
  try {
    const coll = client.db('bench').collection<{ _id: number; k: number }>('planner');
    for (let i = 0; i < PLANNER_DOCS; i += 10_000) await coll.insertMany(Array.from({ length: 10_000 }, (_, j) => ({ _id: i + j, k: i + j })));
    await coll.createIndex({ k: 1 });
    const viaDriver = async (n: number, hint?: Document): Promise<number> => {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await coll.findOne({ k: Math.floor(Math.random() * PLANNER_DOCS) }, hint ? { hint } : {});
      return (performance.now() - t0) / n;
    };
    await viaDriver(20);
    const driverIndexedMs = await viaDriver(300);
    const driverScanMs = await viaDriver(20, { $natural: 1 });
    console.log(`planner through the driver: index ${driverIndexedMs.toFixed(2)} ms, collection scan ${driverScanMs.toFixed(1)} ms => ${(driverScanMs / driverIndexedMs).toFixed(0)}x`);
    return { docs: PLANNER_DOCS, indexedMs, scanMs, speedup, driverIndexedMs, driverScanMs, driverSpeedup: driverScanMs / driverIndexedMs };
  } finally {
    await client.close();
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const serveAt = process.argv.indexOf('--serve');
  if (serveAt >= 0) {
    const d = process.argv.indexOf('--data-dir');
    return serve(d >= 0 ? process.argv[d + 1] : undefined);
  }
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cores: cpus().length, ops: OPS };
  // `--only throughput|kill|planner` runs one section (the results file then holds only that section).
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
  if (!only || only === 'throughput') {
    console.log(`updateOne({_id}, {$inc}) x ${OPS} (max ${MAX_SECONDS}s per run), node ${process.version}, ${cpus().length} cores`);
    const memory = await processRuns();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'bench-journal-'));
    let journaled: { c64: number; raw64: number };
    try {
      journaled = await processRuns(dataDir);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
    const ratio = journaled.c64 / memory.c64;
    const rawRatio = journaled.raw64 / memory.raw64;
    console.log(`journal cost at concurrency 64: driver ${(ratio * 100).toFixed(0)}% of in-memory throughput, raw ${(rawRatio * 100).toFixed(0)}% (target >= 80%: ${ratio >= 0.8 ? 'met' : 'MISSED'})`);
    results.throughput = { inMemory: memory, journal: journaled, ratioDriver: ratio, ratioRaw: rawRatio };

    if (!process.argv.includes('--no-in-process')) {
      const inProcess = await startEmbeddedDb({ port: 0 });
      try {
        console.log('server in the same process as the client (in memory):');
        for (const c of [1, 64]) console.log('  ' + (await run(inProcess.uri, c, c === 1 ? Math.min(OPS, 5000) : OPS)).line);
      } finally {
        await inProcess.stop();
      }
    }
  }

  if (!only || only === 'kill') {
    const rounds = Number(process.env.BENCH_KILL_ROUNDS ?? 5);
    const withJournal = await killRounds(rounds, true);
    const without = await killRounds(1, false);
    console.log(`kill -9 of npm run db, ${rounds} rounds x ${KILL_WRITERS} writers: ${withJournal.lost} of ${withJournal.acked} acknowledged inserts lost with the journal; without it (1 round): ${without.lost} of ${without.acked} lost`);
    results.killRounds = { rounds, writers: KILL_WRITERS, journal: withJournal, noJournal: without };
  }

  if (!only || only === 'planner') results.planner = await plannerRun();

  const out = path.join('bench', 'results');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'embedded-db.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`results written to ${path.join(out, 'embedded-db.json')}`);
  process.exit(0);
}

await main();
