// The crash proof: API (or naive) processes over one database process, reaching it through the fault proxy, get
// thousands of keyed and unkeyed multi-write mutations while some of them are SIGKILLed and restarted; then the
// harness measures drift, runs `npm run repair`, and checks drift and exactly-once per key from the public API.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Db } from 'mongodb';
import { signToken } from '../../src/auth/token.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { type FaultRates } from '../helpers/fault-proxy.js';
import { REPO_ROOT, startCrashRig, type ServerFleet, type ServerKind } from './crash-processes.js';

/** Per database command the proxy may fault, as in the idempotency fault tests: 2.5% in all, 1.5% after the server applied it. */
export const CRASH_FAULTS: FaultRates = { dropRequest: 0.005, cutRequest: 0.005, dropReply: 0.01, cutReply: 0.005 };
const NO_FAULTS: FaultRates = { dropRequest: 0, cutRequest: 0, dropReply: 0, cutReply: 0 };
/** Driver settings through the proxy (see test/idempotency/faulty-api.ts for why). */
const DRIVER_OPTIONS = { minHeartbeatFrequencyMS: 10, serverSelectionTimeoutMS: 10_000, maxPoolSize: 8 };
const JWT_SECRET = 'crash-proof-secret-that-is-long-enough-for-hs256';
const AUTHORS = ['crash-author-0', 'crash-author-1', 'crash-author-2', 'crash-author-3'];
const POST_PACKAGES = 8;

export type Op = 'createPost' | 'deletePost' | 'createPackage' | 'publishRelease';
export type Mode = 'keyed' | 'unkeyed';
export type Counts = Partial<Record<`${Op}:${Mode}`, number>>;

export interface CrashOptions {
  kind: ServerKind;
  counts: Counts;
  instances?: number;
  minKills?: number;
  concurrency?: number;
  faults?: FaultRates;
  /** Share of keyed attempts the client abandons after 0-20 ms (default 5%); unkeyed requests are never abandoned. */
  abandonRate?: number;
  /** Run `npm run repair -- --older-than 0` and verify after it (the real API only). */
  repair?: boolean;
  log?: (line: string) => void;
}

/** What a figure-by-figure recount found: each difference, and their absolute sum. */
export interface Recount {
  drift: number;
  differences: string[];
}

export interface ScriptRun {
  exitCode: number | null;
  ms: number;
  output: string;
}

export interface CrashReport {
  kind: ServerKind;
  counts: Counts;
  instances: number;
  concurrency: number;
  loadMs: number;
  requests: number;
  keyedAttempts: number;
  /** Keyed attempts the client gave up on while the server went on. */
  abandoned: number;
  answers: Record<string, Record<string, number>>;
  /** Unkeyed requests without a final answer: each must be explained by a kill (lost) or a fault (server error). */
  unanswered: { lost: number; serverErrors: number };
  faults: { injected: number; afterApply: number; seed: number };
  kills: { afterCompleted: number; inFlight: number }[];
  /** How long each killed process's replacement took to serve. */
  restartMs: number[];
  before: { recount: Recount; verify?: ScriptRun };
  repair?: ScriptRun;
  after?: { recount: Recount; verify: ScriptRun };
  /** Keys (or unkeyed intents) whose effect is not what the answer the client got says: must be empty. */
  violations: string[];
}

const CREATE_POST = `mutation ($input: CreatePostInput!) { createPost(input: $input) { __typename
  ... on CreatePostSuccess { post { id version } } ... on Error { code message } } }`;
const DELETE_POST = `mutation ($input: DeletePostInput!) { deletePost(input: $input) { __typename
  ... on DeletePostSuccess { postId } ... on Error { code message } } }`;
const CREATE_PACKAGE = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { __typename
  ... on CreatePackageSuccess { package { name } } ... on Error { code message } } }`;
const PUBLISH_RELEASE = `mutation ($input: PublishReleaseInput!) { publishRelease(input: $input) { __typename
  ... on PublishReleaseSuccess { release { version } } ... on Error { code message } } }`;

/** Unkeyed outcomes without a final answer. */
export const LOST = 'lost';
export const SERVER_ERROR = 'server error';

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

interface Reply {
  status: number;
  body: any;
}

/** One POST; with abandonAfterMs the client hangs up after that long, as a phone losing its connection (the server carries on). */
function post(url: string, payload: string, headers: Record<string, string>, abandonAfterMs?: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode!, body: JSON.parse(text) });
        } catch {
          reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
        }
      });
      response.on('error', reject);
    });
    const timer = abandonAfterMs === undefined ? undefined : setTimeout(() => request.destroy(new Error('abandoned')), abandonAfterMs);
    request.on('error', reject);
    request.on('close', () => clearTimeout(timer));
    request.end(payload);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The outcome a client can act on: the result's __typename or error code; null when the answer is not final. */
function finalOutcome(reply: Reply, field: string): { outcome: string; result: any } | null {
  const code: unknown = reply.body?.errors?.[0]?.extensions?.code;
  if (reply.status >= 500 || code === 'IN_PROGRESS' || code === 'INTERNAL_SERVER_ERROR') return null;
  const result = reply.body?.data?.[field];
  if (!result) return { outcome: typeof code === 'string' ? code : `HTTP ${reply.status}`, result: null };
  return { outcome: result.__typename === undefined || /Success$/.test(result.__typename) ? 'success' : (result.code ?? result.__typename), result };
}

class Client {
  requests = 0;
  keyedAttempts = 0;
  inFlight = 0;
  abandoned = 0;
  constructor(
    private readonly fleet: ServerFleet,
    private readonly abandonRate: number,
  ) {}

  private async pickUrl(): Promise<string> {
    for (;;) {
      const urls = this.fleet.urls();
      if (urls.length > 0) return urls[Math.floor(Math.random() * urls.length)]!;
      await sleep(20);
    }
  }

  private async send(query: string, variables: unknown, headers: Record<string, string>, abandonAfterMs?: number): Promise<Reply> {
    this.requests++;
    this.inFlight++;
    try {
      return await post(await this.pickUrl(), JSON.stringify({ query, variables }), headers, abandonAfterMs);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * As a mobile client: the same key and body until a final answer, to any live instance, giving up on a share of
   * attempts after 0-20 ms so that a retry races the attempt still running on the server; throws after 120 s.
   */
  async keyed(query: string, field: string, variables: unknown, token: string, key: string): Promise<{ outcome: string; result: any }> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      this.keyedAttempts++;
      const abandonAfterMs = Math.random() < this.abandonRate ? Math.floor(Math.random() * 20) : undefined;
      if (abandonAfterMs !== undefined) this.abandoned++;
      try {
        const answer = finalOutcome(await this.send(query, variables, { authorization: `Bearer ${token}`, 'idempotency-key': key }, abandonAfterMs), field);
        if (answer) return answer;
        await sleep(50);
      } catch {
        await sleep(5 + Math.floor(Math.random() * 20));
      }
    }
    throw new Error(`no final answer for key ${key} within 120 s`);
  }

  /**
   * One attempt without a key. No final answer is 'lost' (the connection died: a killed process) or 'server error'
   * (a 5xx or masked error: a fault the server could not ride out); either way the effect may or may not have happened.
   */
  async unkeyed(query: string, field: string, variables: unknown, token: string): Promise<{ outcome: string; result: any }> {
    try {
      return finalOutcome(await this.send(query, variables, { authorization: `Bearer ${token}` }), field) ?? { outcome: SERVER_ERROR, result: null };
    } catch {
      return { outcome: LOST, result: null };
    }
  }

  /** A read that must succeed (faults are off by then): retried on network errors only. */
  async read(query: string, variables: unknown = {}): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await this.send(query, variables, {});
        if (reply.status !== 200 || reply.body.errors) throw new Error(JSON.stringify(reply.body.errors ?? reply.status));
        return reply.body.data;
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(100);
      }
    }
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

async function runPool(tasks: (() => Promise<void>)[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

/** `npm run <script>` against the database directly (not through the proxy); output and wall time. */
export function runNpmScript(script: string, args: string[], env: Record<string, string>): Promise<ScriptRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script, ...(args.length > 0 ? ['--', ...args] : [])], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (exitCode) => resolve({ exitCode, ms: Date.now() - started, output: output.trim() }));
  });
}

export function npmScriptExists(script: string): boolean {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return pkg.scripts?.[script] !== undefined;
}

interface Intent {
  op: Op;
  mode: Mode;
  /** What the effect must look like after repair, checked against the public API; null = no check. */
  outcome: string;
  title?: string;
  postId?: string;
  packageName?: string;
  version?: string;
}

export async function runCrashScenario(options: CrashOptions): Promise<CrashReport> {
  const { kind, counts, instances = 2, minKills = 5, concurrency = 24, faults = CRASH_FAULTS, abandonRate = 0.05 } = options;
  const log = options.log ?? (() => undefined);
  const rig = await startCrashRig({
    kind,
    instances,
    dbName: `crash_proof_${kind}_${randomBytes(4).toString('hex')}`,
    jwtSecret: JWT_SECRET,
    driverOptions: DRIVER_OPTIONS,
    prepare: async (db) => {
      if (kind === 'api') await ensureIndexes(db);
    },
  });
  const { dbProcess, proxy, db, dbName, fleet } = rig;
  try {
    log(`${kind}: database process ${dbProcess.pid} at ${dbProcess.uri}, ${instances} server processes`);
    const client = new Client(fleet, abandonRate);
    const tokens = await Promise.all(AUTHORS.map((id) => signToken(id, { secret: JWT_SECRET })));
    const postPackages = Array.from({ length: POST_PACKAGES }, (_, i) => ({ name: `crash-pkg-${i}`, token: tokens[i % tokens.length]! }));

    if (kind === 'api') {
      for (const p of postPackages) {
        const { outcome } = await client.keyed(CREATE_PACKAGE, 'createPackage', { input: { name: p.name, summary: 's' } }, p.token, `setup-${p.name}`);
        if (outcome !== 'success') throw new Error(`setup createPackage ${p.name}: ${outcome}`);
      }
    } else {
      await db.collection('packages').insertMany(postPackages.map((p) => ({ _id: p.name as never, postCount: 0 })));
    }

    const intents: Intent[] = [];
    const answers: Record<string, Record<string, number>> = {};
    const count = (label: string, outcome: string) => {
      answers[label] ??= {};
      answers[label][outcome] = (answers[label][outcome] ?? 0) + 1;
    };
    const tasks: (() => Promise<void>)[] = [];
    const n = (key: keyof Counts) => counts[key] ?? 0;
    for (const mode of ['keyed', 'unkeyed'] as const) {
      for (let i = 0; i < n(`createPost:${mode}`); i++) {
        tasks.push(async () => {
          const p = postPackages[i % postPackages.length]!;
          const title = `keep-${mode}-${i}`;
          const input = { title, body: 'b', packageName: p.name };
          const { outcome } =
            mode === 'keyed'
              ? await client.keyed(CREATE_POST, 'createPost', { input }, p.token, `create-${i}`)
              : await client.unkeyed(CREATE_POST, 'createPost', { input }, p.token);
          count(`createPost:${mode}`, outcome);
          intents.push({ op: 'createPost', mode, outcome, title });
        });
      }
      for (let i = 0; i < n(`deletePost:${mode}`); i++) {
        tasks.push(async () => {
          // The post to delete is made first, keyed, so it certainly exists; the delete is the intent under test.
          const p = postPackages[(i + 3) % postPackages.length]!;
          const title = `gone-${mode}-${i}`;
          const created = await client.keyed(CREATE_POST, 'createPost', { input: { title, body: 'b', packageName: p.name } }, p.token, `victim-${mode}-${i}`);
          count(`createPost:keyed`, created.outcome);
          if (created.outcome !== 'success') throw new Error(`victim createPost ${title}: ${created.outcome}`);
          const input = { postId: created.result.post.id, expectedVersion: created.result.post.version };
          const { outcome } =
            mode === 'keyed'
              ? await client.keyed(DELETE_POST, 'deletePost', { input }, p.token, `delete-${i}`)
              : await client.unkeyed(DELETE_POST, 'deletePost', { input }, p.token);
          count(`deletePost:${mode}`, outcome);
          intents.push({ op: 'deletePost', mode, outcome, title, postId: input.postId });
        });
      }
      for (let i = 0; i < n(`createPackage:${mode}`); i++) {
        tasks.push(async () => {
          const name = `made-${mode}-${i}`;
          const token = tokens[i % tokens.length]!;
          const input = { name, summary: 's' };
          const { outcome } =
            mode === 'keyed'
              ? await client.keyed(CREATE_PACKAGE, 'createPackage', { input }, token, `package-${i}`)
              : await client.unkeyed(CREATE_PACKAGE, 'createPackage', { input }, token);
          count(`createPackage:${mode}`, outcome);
          intents.push({ op: 'createPackage', mode, outcome, packageName: name });
        });
      }
      for (let i = 0; i < n(`publishRelease:${mode}`); i++) {
        tasks.push(async () => {
          const p = postPackages[i % postPackages.length]!;
          const version = `${mode === 'keyed' ? 1 : 2}.${i}.0`;
          const input = { packageName: p.name, version, sizeBytes: 1 };
          const { outcome } =
            mode === 'keyed'
              ? await client.keyed(PUBLISH_RELEASE, 'publishRelease', { input }, p.token, `release-${i}`)
              : await client.unkeyed(PUBLISH_RELEASE, 'publishRelease', { input }, p.token);
          count(`publishRelease:${mode}`, outcome);
          intents.push({ op: 'publishRelease', mode, outcome, packageName: p.name, version });
        });
      }
    }
    shuffle(tasks);

    // Kills at random points of the load (between 5% and 85% of the intents done), so each lands mid-traffic.
    const killAt = Array.from({ length: minKills }, () => Math.floor(tasks.length * (0.05 + Math.random() * 0.8))).sort((a, b) => a - b);
    const kills: CrashReport['kills'] = [];
    let completed = 0;
    let loadDone = false;
    const killer = (async () => {
      for (const threshold of killAt) {
        while (completed < threshold && !loadDone) await sleep(5);
        const inFlight = client.inFlight;
        await fleet.kill9();
        kills.push({ afterCompleted: completed, inFlight });
      }
    })();
    const faultsBefore = proxy.faults.length;
    proxy.setFaults(faults);
    const started = Date.now();
    const progress = setInterval(() => log(`${kind}: ${completed}/${tasks.length} intents, ${client.requests} requests, ${kills.length} kills`), 5_000);
    await runPool(
      tasks.map((task) => async () => {
        await task();
        completed++;
      }),
      concurrency,
    );
    loadDone = true;
    clearInterval(progress);
    await killer;
    const restartMs = await fleet.settle();
    const loadMs = Date.now() - started;
    proxy.setFaults(NO_FAULTS);
    const injected = proxy.faults.slice(faultsBefore);
    log(`${kind}: ${tasks.length} intents in ${loadMs} ms, ${kills.length} kills, ${injected.length} faults`);

    const env = { MONGODB_URI: dbProcess.uri, MONGODB_DB: dbName };
    const report: CrashReport = {
      kind,
      counts,
      instances,
      concurrency,
      loadMs,
      requests: client.requests,
      keyedAttempts: client.keyedAttempts,
      abandoned: client.abandoned,
      answers,
      unanswered: {
        lost: Object.values(answers).reduce((sum, byOutcome) => sum + (byOutcome[LOST] ?? 0), 0),
        serverErrors: Object.values(answers).reduce((sum, byOutcome) => sum + (byOutcome[SERVER_ERROR] ?? 0), 0),
      },
      faults: { injected: injected.length, afterApply: injected.filter((f) => f.kind === 'dropReply' || f.kind === 'cutReply').length, seed: proxy.seed },
      kills,
      restartMs,
      before: { recount: kind === 'api' ? await recountApi(client, db) : await recountNaive(db) },
      violations: [],
    };
    if (kind === 'naive') return report;

    if (npmScriptExists('verify')) report.before.verify = await runNpmScript('verify', [], env);
    if (options.repair ?? true) {
      report.repair = npmScriptExists('repair')
        ? await runNpmScript('repair', ['--older-than', '0'], env)
        : { exitCode: null, ms: 0, output: 'npm run repair does not exist' };
      report.after = {
        recount: await recountApi(client, db),
        verify: npmScriptExists('verify') ? await runNpmScript('verify', [], env) : { exitCode: null, ms: 0, output: 'npm run verify does not exist' },
      };
      report.violations = await checkIntents(client, intents, postPackages.map((p) => p.name));
    }
    return report;
  } finally {
    await rig.close();
  }
}

const POSTS_PAGE = `query ($packageName: String!, $after: String) {
  posts(packageName: $packageName, first: 100, after: $after) { edges { node { id title } } pageInfo { hasNextPage endCursor } } }`;
const PACKAGES_PAGE = `query ($after: String) {
  packages(first: 100, after: $after) { edges { node { name releaseCount releases { version } } } pageInfo { hasNextPage endCursor } } }`;
const STATS = `{ registryStats { totalPackages totalReleases totalPosts } }`;

async function allPages<T>(client: Client, query: string, field: string, variables: Record<string, unknown>): Promise<T[]> {
  const nodes: T[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { edges: { node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } = (await client.read(query, { ...variables, after }))[field];
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
}

/**
 * The harness's own recount, from what readers see (the public API) against the stored figures: each package's
 * postCount (stored, not exposed) against its listed posts, releaseCount against its releases, and the registry
 * totals against the sums.
 */
async function recountApi(client: Client, db: Db): Promise<Recount> {
  const differences: string[] = [];
  let drift = 0;
  const note = (what: string, stored: number, counted: number) => {
    if (stored === counted) return;
    drift += Math.abs(stored - counted);
    differences.push(`${what}: stored ${stored}, counted ${counted}`);
  };
  const packages = await allPages<{ name: string; releaseCount: number; releases: { version: string }[] }>(client, PACKAGES_PAGE, 'packages', {});
  const stored = new Map((await db.collection<{ _id: string; postCount?: number }>('packages').find({}, { projection: { postCount: 1 } }).toArray()).map((d) => [d._id, d.postCount ?? 0]));
  let posts = 0;
  let releases = 0;
  for (const p of packages) {
    const listed = (await allPages<{ id: string }>(client, POSTS_PAGE, 'posts', { packageName: p.name })).length;
    posts += listed;
    releases += p.releases.length;
    note(`${p.name}.postCount`, stored.get(p.name) ?? 0, listed);
    note(`${p.name}.releaseCount`, p.releaseCount, p.releases.length);
  }
  const stats = (await client.read(STATS)).registryStats as { totalPackages: number; totalReleases: number; totalPosts: number };
  note('registry.totalPackages', stats.totalPackages, packages.length);
  note('registry.totalReleases', stats.totalReleases, releases);
  note('registry.totalPosts', stats.totalPosts, posts);
  return { drift, differences };
}

/** The naive server's figures: each package's postCount against the posts stored about it. */
async function recountNaive(db: Db): Promise<Recount> {
  const differences: string[] = [];
  let drift = 0;
  for (const p of await db.collection<{ _id: string; postCount: number }>('packages').find({}).toArray()) {
    const counted = await db.collection('posts').countDocuments({ packageName: p._id });
    if (counted === p.postCount) continue;
    drift += Math.abs(counted - p.postCount);
    differences.push(`${p._id}.postCount: stored ${p.postCount}, counted ${counted}`);
  }
  return { drift, differences };
}

/**
 * Exactly one effect per answered intent, read from the public API: a created post exists once (by its unique
 * title), a deleted one is gone, a created package and a published release exist. An unkeyed intent that got no
 * answer may have happened or not, but at most once.
 */
async function checkIntents(client: Client, intents: Intent[], postPackages: string[]): Promise<string[]> {
  const titles = new Map<string, number>();
  for (const name of postPackages) {
    for (const node of await allPages<{ title: string }>(client, POSTS_PAGE, 'posts', { packageName: name })) {
      titles.set(node.title, (titles.get(node.title) ?? 0) + 1);
    }
  }
  const packages = new Map(
    (await allPages<{ name: string; releases: { version: string }[] }>(client, PACKAGES_PAGE, 'packages', {})).map((p) => [p.name, p.releases.map((r) => r.version)]),
  );
  const violations: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) violations.push(what);
  };
  for (const intent of intents) {
    const label = `${intent.op} ${intent.mode} answered ${intent.outcome}`;
    const success = intent.outcome === 'success';
    const unanswered = intent.outcome === LOST || intent.outcome === SERVER_ERROR;
    check(success || intent.mode === 'unkeyed', `${label}: a keyed request must end in success here`);
    if (intent.op === 'createPost') {
      const n = titles.get(intent.title!) ?? 0;
      check(success ? n === 1 : unanswered ? n <= 1 : n === 0, `${label}: ${n} posts titled ${intent.title}`);
    } else if (intent.op === 'deletePost') {
      const n = titles.get(intent.title!) ?? 0;
      const gone = (await client.read('query ($id: ID!) { post(id: $id) { id } }', { id: intent.postId })).post === null;
      check(success ? n === 0 && gone : unanswered ? n <= 1 : n === 1, `${label}: ${n} posts titled ${intent.title}, post(id) ${gone ? 'null' : 'present'}`);
    } else if (intent.op === 'createPackage') {
      const exists = packages.has(intent.packageName!);
      check(success ? exists : unanswered || !exists, `${label}: package ${intent.packageName} ${exists ? 'exists' : 'missing'}`);
    } else {
      const n = (packages.get(intent.packageName!) ?? []).filter((v) => v === intent.version).length;
      check(success ? n === 1 : unanswered ? n <= 1 : n === 0, `${label}: ${n} releases ${intent.packageName}@${intent.version}`);
    }
  }
  return violations;
}

/**
 * Whether the run proves anything: at least `minKills` kills, faults after the server applied a command, most of each
 * kind answered success, and every unanswered unkeyed request explained by a kill (the requests in flight when it
 * came) or by a fault on the wire to the database. Empty when all hold.
 */
export function loadProblems(report: CrashReport, minKills = 5): string[] {
  const problems: string[] = [];
  if (report.kills.length < minKills) problems.push(`${report.kills.length} kills, fewer than ${minKills}`);
  if (report.faults.afterApply === 0) problems.push('no fault after the server applied a command');
  for (const [label, byOutcome] of Object.entries(report.answers)) {
    const total = Object.values(byOutcome).reduce((a, b) => a + b, 0);
    if ((byOutcome.success ?? 0) <= total / 2) problems.push(`${label}: only ${byOutcome.success ?? 0} of ${total} succeeded (${JSON.stringify(byOutcome)})`);
  }
  const killedInFlight = report.kills.reduce((sum, k) => sum + k.inFlight, 0);
  if (report.unanswered.lost > killedInFlight) problems.push(`${report.unanswered.lost} requests lost, more than the ${killedInFlight} in flight at kills`);
  if (report.unanswered.serverErrors > report.faults.injected) problems.push(`${report.unanswered.serverErrors} server errors, more than the ${report.faults.injected} faults`);
  return problems;
}

/** A few lines a person reads: load, kills, drift before, repair, drift after, violations. */
export function summarize(report: CrashReport): string {
  const lines = [
    `${report.kind}: ${report.requests} requests (${report.keyedAttempts} keyed attempts, ${report.abandoned} abandoned by the client) in ${report.loadMs} ms over ${report.instances} processes, concurrency ${report.concurrency}`,
    `  answers: ${JSON.stringify(report.answers)}`,
    `  unanswered unkeyed: ${report.unanswered.lost} lost with a killed process, ${report.unanswered.serverErrors} server errors`,
    `  faults: ${report.faults.injected} injected (${report.faults.afterApply} after the server applied the command), seed ${report.faults.seed}`,
    `  kills: ${report.kills.length} (${report.kills.map((k) => `after ${k.afterCompleted} intents with ${k.inFlight} in flight`).join('; ')}); replacements ready in ${report.restartMs.join(', ')} ms`,
    `  drift before repair: ${report.before.recount.drift} (${report.before.recount.differences.length} figures)` +
      (report.before.verify ? `; verify exit ${report.before.verify.exitCode}: ${report.before.verify.output.split('\n').pop()}` : ''),
  ];
  if (report.repair) lines.push(`  repair: exit ${report.repair.exitCode} in ${report.repair.ms} ms: ${report.repair.output.split('\n').pop()}`);
  if (report.after) lines.push(`  drift after repair: ${report.after.recount.drift}; verify exit ${report.after.verify.exitCode}`);
  if (report.kind === 'api') lines.push(`  exactly-once violations: ${report.violations.length}`);
  return lines.join('\n');
}
