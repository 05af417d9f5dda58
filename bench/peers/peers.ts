// The side-by-side cost of one request (issue 15): the project next to a plain JSON endpoint, a tuned bare graphql-yoga,
// Apollo Server 5 and Mercurius + graphql-jit, each in its own process doing the identical database work (the project's
// ops on the project's MongoClient) against one database. Rounds are interleaved and rotate which server goes first,
// so a busy moment on the shared machine falls on every server alike. Per server and operation: server CPU µs per
// request (process.cpuUsage of the server process), throughput, p50 and p99, and every ratio to the JSON endpoint. Then
// the project alone under a V8 CPU profile: self time per package and the hottest frames, per request.
// Alone: `npx tsx bench/peers/peers.ts [--quick] [--rounds N] [--requests N] [--connections N] [--baseline-ref REF]`
// writes bench/results/peers.json; --baseline-ref also measures the project's src/ as of REF in the same rounds.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { MongoClient, ObjectId } from 'mongodb';
import { signToken } from '../../src/auth/token.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { insertPackage } from '../../src/packages/package.ops.js';
import { runLoad, type Classified, type LoadRequest } from '../load.js';
import { BENCH_LIKE_POST, BENCH_RECORD_VIEW } from '../scenarios/posts.js';
import type { PeerCommand, PeerMessage, PeerServer } from './peer-process.js';
import { type CpuProfile, type ProfileSummary, summarizeProfile } from './profile.js';

export const PEER_OPS = ['recordView', 'likePost', 'package'] as const;
export type PeerOp = (typeof PEER_OPS)[number];
/** Measured servers, in the order of a round's first pass (json is every ratio's denominator). */
export const MEASURED: readonly PeerServer[] = ['json', 'project', 'yoga', 'apollo', 'mercurius'];
export const PEER_LABELS: Record<PeerServer, string> = {
  json: 'plain JSON on node:http',
  project: 'this project',
  yoga: 'graphql-yoga 5, tuned',
  apollo: 'Apollo Server 5',
  mercurius: 'Mercurius 16 + graphql-jit',
};
/** The target: project CPU per request at most this times the JSON endpoint's, for every operation. */
export const CPU_RATIO_TARGET = 1.3;

const PACKAGE_NAME = 'bench-peers';
const PACKAGE_QUERY = 'query ($name: String!) { package(name: $name) { name summary version releaseCount } }';

export interface PeerRow {
  /** The server's kind, or "project@<ref>" for the project as of an earlier commit measured in the same run. */
  server: string;
  kind: PeerServer;
  label: string;
  op: PeerOp;
  requests: number;
  errors: number;
  /** Server process CPU (user + system) over all measured rounds, per answered request. */
  cpuUsPerRequest: number;
  /** Medians over the rounds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Total CPU per request over total JSON CPU per request. */
  cpuToJson: number;
  /**
   * The median over rounds of this round's CPU per request over JSON's in the same round: what the targets judge, since
   * it pairs measurements minutes apart at most and so shrugs off a burst of other work on the shared machine.
   */
  cpuToJsonMedian: number;
  rpsToJson: number;
  p50ToJson: number;
  p99ToJson: number;
}

export interface PeerReport {
  meta: { date: string; node: string; cpus: number; cpuModel: string; loadAverageAtStart: number; loadAverageAtEnd: number; rounds: number; requestsPerRound: number; connections: number; projectEnv: Record<string, string> };
  rows: PeerRow[];
  /** Project CPU per request / JSON's, per operation, against CPU_RATIO_TARGET. */
  target: { op: PeerOp; ratio: number; met: boolean }[];
  /** Views and likes acknowledged vs counted in the database (every server): must be equal. */
  verified: { acknowledged: number; counted: number };
  /**
   * V8 CPU profiles under the same load (every operation, one after the other): the project first, then the plain JSON
   * endpoint and the bare Yoga, so the project's extra self time shows per package beside theirs.
   */
  profiles?: (ProfileSummary & { server: string; ops: readonly PeerOp[] })[];
}

/** Servers profiled after the rounds, in this order. */
const PROFILED = ['project', 'yoga', 'json'];

interface Peer {
  id: string;
  kind: PeerServer;
  child: ChildProcess;
  url: string;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository, so the bundle's bare imports resolve from its node_modules.
const BUNDLE_DIR = join(ROOT, 'node_modules/.cache/registry-bench-peers');

/**
 * The peer entry with src/ bundled and npm packages imported as they are: the profile then names each package. With
 * `ref`, every src/ file is taken as it was at that commit (git show), so a change is measured before and after in one run.
 */
async function bundlePeerProcess(ref?: string, fromDisk: readonly string[] = []): Promise<string> {
  await mkdir(BUNDLE_DIR, { recursive: true });
  const outfile = join(BUNDLE_DIR, ref ? `peer-process-${ref.replace(/[^\w.-]/g, '_')}-${fromDisk.length}.mjs` : 'peer-process.mjs');
  const atRef: Plugin = {
    name: 'src-at-ref',
    setup(b) {
      b.onLoad({ filter: /\/src\/.*\.ts$/ }, (args) => {
        if (fromDisk.includes(relative(ROOT, args.path))) return undefined;
        const shown = spawnSync('git', ['show', `${ref}:${relative(ROOT, args.path)}`], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
        // A file that did not exist then is not imported by the code of then either; the current one is harmless.
        return shown.status === 0 ? { contents: shown.stdout, loader: 'ts' } : undefined;
      });
    },
  };
  await build({
    plugins: ref ? [atRef] : [],
    entryPoints: [fileURLToPath(new URL('./peer-process.ts', import.meta.url))],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

function message<T extends PeerMessage['type']>(child: ChildProcess, type: T): Promise<Extract<PeerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: PeerMessage) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m as Extract<PeerMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`peer process exited (${code}) while waiting for "${type}"`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function startPeer(file: string, kind: PeerServer, id: string, env: NodeJS.ProcessEnv): Promise<Peer> {
  // Logs (the project's request log at info, as deployed) go to /dev/null: written, never read.
  // execArgv: [] so a bundle runs on plain Node, without the tsx loader this script may be run with.
  const child = fork(file, [], { env: { ...env, PEER_SERVER: kind }, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    const { url } = await message(child, 'ready');
    return { id, kind, child, url };
  } finally {
    clearTimeout(timer);
  }
}

async function stopPeer(peer: Peer): Promise<void> {
  if (peer.child.exitCode !== null || peer.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => peer.child.once('exit', () => resolve()));
  peer.child.kill('SIGTERM');
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function cpuUs(peer: Peer): Promise<number> {
  const reply = message(peer.child, 'cpu');
  peer.child.send({ type: 'cpu' } satisfies PeerCommand);
  const { userUs, systemUs } = await reply;
  return userUs + systemUs;
}

function newPostDoc(title: string) {
  return { _id: new ObjectId(), title, body: 'peer bench', authorId: 'bench-author', packageName: PACKAGE_NAME, likedBy: [], likeCount: 0, viewCount: 0, lastViewedAt: null, createdAt: new Date(), version: 1 };
}

function classify(server: PeerServer, op: PeerOp) {
  return (status: number, body: string): Classified => {
    if (status !== 200) return { outcome: `error:HTTP ${status}` };
    try {
      const json = JSON.parse(body) as Record<string, any>;
      const value = server === 'json' ? json : json.data?.[op];
      if (op === 'package') return { outcome: (server === 'json' ? value.package : value)?.name === PACKAGE_NAME ? 'ok' : 'error:no package' };
      return { outcome: String(value?.__typename).endsWith('Success') ? 'ok' : `error:${value?.code ?? JSON.stringify(json).slice(0, 120)}` };
    } catch {
      return { outcome: 'error:invalid JSON' };
    }
  };
}

/** The request a server gets for op: the same GraphQL document for every GraphQL server, the same values for JSON. */
function requestFor(server: PeerServer, op: PeerOp, postId: string, token: string | undefined): LoadRequest {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  if (server === 'json') {
    const path = op === 'recordView' ? '/view' : op === 'likePost' ? '/like' : '/package';
    return { path, body: JSON.stringify(op === 'package' ? { name: PACKAGE_NAME } : { postId }), headers };
  }
  if (op === 'package') return { body: JSON.stringify({ query: PACKAGE_QUERY, variables: { name: PACKAGE_NAME } }) };
  return { body: JSON.stringify({ query: op === 'likePost' ? BENCH_LIKE_POST : BENCH_RECORD_VIEW, variables: { postId } }), headers };
}

export interface PeerBenchOptions {
  mongoUri: string;
  dbName: string;
  jwtSecret: string;
  rounds: number;
  requestsPerRound: number;
  connections: number;
  warmUpRequests: number;
  /** Requests per operation in the profiled window (0: no profile). */
  profileRequests: number;
  /** Also measure the project as of this git ref, in the same rounds (before/after of a change). */
  baselineRef?: string;
  /**
   * The measured project's src/ as of this ref instead of the working tree, with the `overlay` files from disk: one
   * change measured alone while others edit other files of the same tree.
   */
  projectRef?: string;
  overlay?: string[];
  /** Only these of MEASURED (json always): a before/after of one change needs no peers. */
  only?: PeerServer[];
  log(line: string): void;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function runPeerBench(options: PeerBenchOptions): Promise<PeerReport> {
  const loadAverageAtStart = loadavg()[0]!;
  const client = new MongoClient(options.mongoUri);
  const db = client.db(options.dbName);
  const projectEnv = { NODE_ENV: 'production', LOG_LEVEL: 'info', RATE_LIMITS: 'off', DB_TRACE: '0' };
  const env: NodeJS.ProcessEnv = { ...process.env, ...projectEnv, MONGODB_URI: options.mongoUri, MONGODB_DB: options.dbName, AUTH_JWT_SECRET: options.jwtSecret };
  const peers: Peer[] = [];
  try {
    await ensureIndexes(db);
    const created = await insertPackage(db, { name: PACKAGE_NAME, displayName: PACKAGE_NAME, summary: 'peer bench', maintainerId: 'bench-author' });
    if (!created.ok && created.error.code !== 'ALREADY_EXISTS') throw new Error(`could not create the bench package: ${created.error.message}`);
    const file = await bundlePeerProcess(options.projectRef, options.overlay);
    const servers: { id: string; kind: PeerServer; file: string }[] = MEASURED.filter((kind) => kind === 'json' || !options.only || options.only.includes(kind)).map((kind) => ({ id: kind, kind, file }));
    if (options.baselineRef) servers.splice(2, 0, { id: `project@${options.baselineRef}`, kind: 'project', file: await bundlePeerProcess(options.baselineRef) });
    options.log(`peers: starting ${servers.map((s) => s.id).join(', ')} (one process each)`);
    for (const server of servers) peers.push(await startPeer(server.file, server.kind, server.id, env));

    // Every like is by a user of its own (token verified, user upserted, like pushed), signed before any load.
    let userSeq = 0;
    const tokens = async (n: number) => Promise.all(Array.from({ length: n }, () => signToken(`peer-user-${userSeq++}`, { secret: options.jwtSecret })));
    const posts = async (n: number) => {
      const docs = Array.from({ length: n }, (_, i) => newPostDoc(`peer post ${i}`));
      await db.collection('posts').insertMany(docs);
      return docs.map((d) => d._id.toHexString());
    };
    const acknowledged = { views: 0, likes: 0 };
    const viewPosts: string[] = [];
    const likePosts: string[] = [];
    const load = async (peer: Peer, op: PeerOp, amount: number) => {
      const postId = op === 'package' ? '' : (await posts(1))[0]!;
      if (op === 'recordView') viewPosts.push(postId);
      if (op === 'likePost') likePosts.push(postId);
      const signed = op === 'likePost' ? await tokens(amount) : [];
      const result = await runLoad({
        urls: [peer.url],
        connections: options.connections,
        amount,
        request: (i) => requestFor(peer.kind, op, postId, signed[i]),
        classify: classify(peer.kind, op),
      });
      const ok = result.outcomes.ok ?? 0;
      if (op === 'recordView') acknowledged.views += ok;
      if (op === 'likePost') acknowledged.likes += ok;
      return { ...result, ok, errors: result.requests - ok };
    };

    options.log(`peers: warming up, ${options.warmUpRequests} requests per server and operation`);
    for (const peer of peers) for (const op of PEER_OPS) await load(peer, op, options.warmUpRequests);

    const samples = new Map<string, { cpuUs: number; answered: number; errors: number; rps: number[]; p50: number[]; p99: number[]; perRequest: number[] }>();
    for (let r = 0; r < options.rounds; r++) {
      const order = peers.map((_, i) => peers[(i + r) % peers.length]!);
      options.log(`peers: round ${r + 1} of ${options.rounds}: ${order.map((p) => p.id).join(', ')}`);
      for (const op of PEER_OPS) {
        for (const peer of order) {
          const before = await cpuUs(peer);
          const result = await load(peer, op, options.requestsPerRound);
          const spent = (await cpuUs(peer)) - before;
          const key = `${peer.id}/${op}`;
          const s = samples.get(key) ?? { cpuUs: 0, answered: 0, errors: 0, rps: [], p50: [], p99: [], perRequest: [] };
          s.cpuUs += spent;
          s.perRequest.push(spent / Math.max(1, result.requests - result.transportErrors));
          s.answered += result.requests - result.transportErrors;
          s.errors += result.errors;
          s.rps.push(result.rps);
          s.p50.push(result.p50Ms);
          s.p99.push(result.p99Ms);
          samples.set(key, s);
        }
      }
    }

    const rows: PeerRow[] = [];
    for (const op of PEER_OPS) {
      const of = (id: string) => {
        const s = samples.get(`${id}/${op}`)!;
        return { cpu: s.cpuUs / Math.max(1, s.answered), rps: median(s.rps), p50: median(s.p50), p99: median(s.p99), s };
      };
      const json = of('json');
      for (const { id, kind } of servers) {
        const m = of(id);
        rows.push({
          server: id,
          kind,
          label: id === kind ? PEER_LABELS[kind] : `${PEER_LABELS[kind]} at ${id.split('@')[1]}`,
          op,
          requests: m.s.answered,
          errors: m.s.errors,
          cpuUsPerRequest: round(m.cpu, 1),
          rps: round(m.rps, 0),
          p50Ms: m.p50,
          p99Ms: m.p99,
          cpuToJson: round(m.cpu / json.cpu),
          cpuToJsonMedian: round(median(m.s.perRequest.map((us, i) => us / json.s.perRequest[i]!))),
          rpsToJson: round(m.rps / json.rps),
          p50ToJson: round(m.p50 / json.p50),
          p99ToJson: round(m.p99 / json.p99),
        });
      }
    }

    const profiles: NonNullable<PeerReport['profiles']> = [];
    for (const peer of options.profileRequests > 0 ? peers.filter((p) => PROFILED.includes(p.id)) : []) {
      options.log(`peers: profiling ${peer.id}, ${options.profileRequests} requests per operation`);
      const started = message(peer.child, 'profiling');
      peer.child.send({ type: 'profile-start', intervalUs: 200 } satisfies PeerCommand);
      await started;
      let answered = 0;
      for (const op of PEER_OPS) {
        const result = await load(peer, op, options.profileRequests);
        answered += result.requests - result.transportErrors;
      }
      const profileFile = join(BUNDLE_DIR, `${peer.id}-${Date.now()}.cpuprofile`);
      const done = message(peer.child, 'profiled');
      peer.child.send({ type: 'profile-stop', file: profileFile } satisfies PeerCommand);
      await done;
      const cpuProfile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile;
      await rm(profileFile, { force: true });
      profiles.push({ server: peer.id, ...summarizeProfile(cpuProfile, answered), ops: PEER_OPS });
    }

    const counted = async (ids: string[], field: 'viewCount' | 'likeCount') => {
      const docs = await db.collection('posts').find({ _id: { $in: ids.map((id) => new ObjectId(id)) } }, { projection: { [field]: 1 } }).toArray();
      return docs.reduce((sum, d) => sum + (d[field] as number), 0);
    };
    const verified = { acknowledged: acknowledged.views + acknowledged.likes, counted: (await counted(viewPosts, 'viewCount')) + (await counted(likePosts, 'likeCount')) };
    const cpuList = cpus();
    return {
      meta: {
        date: new Date().toISOString(),
        node: process.versions.node,
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model ?? 'unknown',
        loadAverageAtStart: round(loadAverageAtStart),
        loadAverageAtEnd: round(loadavg()[0]!),
        rounds: options.rounds,
        requestsPerRound: options.requestsPerRound,
        connections: options.connections,
        projectEnv,
      },
      rows,
      target: PEER_OPS.map((op) => {
        const ratio = rows.find((r) => r.server === 'project' && r.op === op)!.cpuToJsonMedian;
        return { op, ratio, met: ratio <= CPU_RATIO_TARGET };
      }),
      verified,
      profiles,
    };
  } finally {
    await Promise.all(peers.map(stopPeer));
    await client.close();
  }
}

/** The peer table as Markdown (README, docs/concurrency.md). */
export function formatPeerTable(report: PeerReport): string {
  const lines = [
    '| operation | server | CPU µs/req | × JSON CPU (median of rounds) | × JSON CPU (totals) | req/s | × JSON req/s | p50 ms | p99 ms |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of report.rows) {
    const name = r.kind === 'project' ? `**${r.label}**` : r.label;
    lines.push(`| ${r.op} | ${name} | ${r.cpuUsPerRequest} | ${r.cpuToJsonMedian.toFixed(2)} | ${r.cpuToJson.toFixed(2)} | ${r.rps} | ${r.rpsToJson.toFixed(2)} | ${r.p50Ms} | ${r.p99Ms} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      requests: { type: 'string' },
      connections: { type: 'string', default: '32' },
      'baseline-ref': { type: 'string' },
      'project-ref': { type: 'string' },
      overlay: { type: 'string' },
      only: { type: 'string' },
      'no-profile': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/results/peers.json' },
    },
  });
  const { writeFile, mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { bundleForNode } = await import('../bundle.js');
  const started = performance.now();
  const log = (line: string) => console.error(`[peers ${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`);
  // The embedded database in a process of its own, as in `npm run bench`: it must not share the load generator's loop.
  const dbFile = join(await mkdtemp(join(tmpdir(), 'registry-peers-')), 'db-process.mjs');
  await bundleForNode(fileURLToPath(new URL('../db-process.ts', import.meta.url)), dbFile, { minify: false });
  const dbChild = fork(dbFile, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const dbUri = await new Promise<string>((resolve, reject) => {
    dbChild.once('message', (m: { uri: string }) => resolve(m.uri));
    dbChild.once('exit', (code) => reject(new Error(`the database process exited (${code})`)));
  });
  try {
    const report = await runPeerBench({
      mongoUri: dbUri,
      dbName: `peers_${Date.now().toString(36)}`,
      jwtSecret: 'peer-bench-secret-that-is-long-enough-0123456789',
      rounds: Number(values.rounds ?? (values.quick ? 2 : 5)),
      requestsPerRound: Number(values.requests ?? (values.quick ? 500 : 2000)),
      connections: Number(values.connections),
      warmUpRequests: values.quick ? 200 : 1000,
      profileRequests: values['no-profile'] ? 0 : values.quick ? 500 : 2000,
      only: values.only?.split(',').filter(Boolean) as PeerServer[] | undefined,
      baselineRef: values['baseline-ref'],
      projectRef: values['project-ref'],
      overlay: values.overlay?.split(',').filter(Boolean),
      log,
    });
    await writeFile(values.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(formatPeerTable(report));
    console.log(report.target.map((t) => `${t.op}: ${t.ratio}x JSON CPU (target ${CPU_RATIO_TARGET}x: ${t.met ? 'met' : 'MISSED'})`).join('\n'));
    console.log(`verified: ${report.verified.acknowledged} acknowledged, ${report.verified.counted} counted`);
    for (const profile of report.profiles ?? []) {
      console.log(`profile of ${profile.server}: ${profile.busyUsPerRequest} µs/req sampled`);
      console.log(profile.byPackage.slice(0, 15).map((p) => `  ${p.package}: ${p.usPerRequest} µs/req (${p.share}%)`).join('\n'));
    }
    console.log(`wrote ${values.out}`);
  } finally {
    dbChild.kill('SIGTERM');
  }
}
