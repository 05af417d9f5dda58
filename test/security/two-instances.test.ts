// Two API processes on one database, as two serverless instances would be: a rate limit of N per minute admits
// exactly N calls in total across both under concurrency, and writes nothing for the refused ones. Their logs
// carry request id, operation, user and outcome, and never the token or the request body.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signToken } from '../../src/auth/token.js';
import { ensureIndexes } from '../../src/db/indexes.js';
import { TEST_JWT_SECRET } from '../helpers/api.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';

const LIMIT = 15;
const CALLS = 60;
const MARKER = 'body-marker-that-must-not-be-logged';

interface Instance {
  child: ChildProcess;
  url: string;
  output: () => string;
}

let client: MongoClient;
let db: Db;
let instances: Instance[] = [];

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const entry = fileURLToPath(new URL('./api-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!/listening (\d+)/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`API process did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const port = /listening (\d+)/.exec(output)![1];
  return { child, url: `http://127.0.0.1:${port}/api/graphql`, output: () => output };
}

beforeAll(async () => {
  const uri = getTestMongoUri();
  const dbName = uniqueDbName('two-instances');
  client = new MongoClient(uri);
  db = client.db(dbName);
  await ensureIndexes(db);
  const env = {
    MONGODB_URI: uri,
    MONGODB_DB: dbName,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMITS: `createPost=${LIMIT}/60`,
    LOG_LEVEL: 'info',
    DB_TRACE: '0',
  };
  instances = await Promise.all([startInstance(env), startInstance(env)]);
});

afterAll(async () => {
  for (const { child } of instances) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  await client.close();
});

async function gql(url: string, query: string, variables: Record<string, unknown>, token: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as { data?: any; errors?: any[] }) };
}

const CREATE_POST = `mutation RacePost($input: CreatePostInput!) {
  createPost(input: $input) { __typename ... on Error { code } ... on RateLimitedError { retryAfterSeconds } }
}`;

it(`admits exactly ${LIMIT} of ${CALLS} concurrent createPost calls across two instances`, async () => {
  const token = await signToken('racer', { secret: TEST_JWT_SECRET });
  const created = await gql(instances[0]!.url, 'mutation { createPackage(input: {name: "raced", summary: "s"}) { __typename } }', {}, token);
  expect(created.data?.createPackage.__typename).toBe('CreatePackageSuccess');
  // The window is a fixed minute: start in a fresh one rather than straddle its end.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));

  const input = { title: 'raced post', body: MARKER, packageName: 'raced' };
  const results = await Promise.all(
    Array.from({ length: CALLS }, (_, i) => gql(instances[i % 2]!.url, CREATE_POST, { input }, token)),
  );
  expect(results.every((r) => r.status === 200 && r.errors === undefined)).toBe(true);
  const byOutcome = results.map((r) => r.data!.createPost.__typename);
  expect(byOutcome.filter((t) => t === 'CreatePostSuccess')).toHaveLength(LIMIT);
  expect(byOutcome.filter((t) => t === 'RateLimitedError')).toHaveLength(CALLS - LIMIT);

  // Nothing but the counter was written for the refused calls.
  expect(await db.collection('posts').countDocuments({ authorId: 'racer' })).toBe(LIMIT);
  expect((await db.collection('packages').findOne({ _id: 'raced' as never }))?.postCount).toBe(LIMIT);
  const windows = await db.collection('rateLimits').find({ _id: { $regex: '^createPost:user:racer:' } as never }).toArray();
  expect(windows.map((w) => w.count)).toEqual([CALLS]);

  // The logs: one line per request, with id, operation, user and outcome; never the token or the body.
  const logs = instances.map((i) => i.output()).join('');
  const lines = logs
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'graphql request' && line.operation === 'RacePost');
  expect(lines).toHaveLength(CALLS);
  expect(lines.filter((l) => l.outcome === 'success')).toHaveLength(LIMIT);
  expect(lines.filter((l) => l.outcome === 'RATE_LIMITED')).toHaveLength(CALLS - LIMIT);
  expect(lines.every((l) => l.userId === 'racer' && l.operationType === 'mutation' && typeof l.requestId === 'string' && l.status === 200)).toBe(true);
  expect(new Set(lines.map((l) => l.requestId)).size).toBe(CALLS);
  expect(logs).not.toContain(token);
  expect(logs).not.toContain(token.split('.')[2]);
  expect(logs).not.toContain(MARKER);
});
