// The request log: one line per request with request id, operation, user and outcome, also for requests refused
// before any GraphQL result exists; the caller's x-request-id is used only when it is plain, and echoed back.
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { logger } from '../../src/logger.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { subscribe } from '../live/sse-client.js';
import { postJson, rawRequest, withEnv } from './helpers.js';

let api: TestApi;
let lines: Record<string, unknown>[];

beforeAll(async () => {
  api = await startApi('request-log');
});
afterAll(() => api.close());
afterEach(() => vi.restoreAllMocks());

/** Captures what the plugin logs (the logger itself is silent in tests). */
function capture() {
  lines = [];
  const record = (line: unknown) => void lines.push(line as Record<string, unknown>);
  vi.spyOn(logger, 'info').mockImplementation(record as never);
  vi.spyOn(logger, 'error').mockImplementation(record as never);
}

it('logs success and typed error codes with the operation and user, never the token or the variables', async () => {
  const alice = await api.token('alice');
  const bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'logged', summary: 's' } }, { token: alice });
  capture();
  const named = PUBLISH_RELEASE.replace('mutation (', 'mutation Publish(');
  const response = await api.gql(named, { input: { packageName: 'logged', version: '1.0.0', sizeBytes: 1, notes: 'secret-notes' } }, {
    token: bob,
    headers: { 'x-request-id': 'req-123' },
  });
  expect(response.data!.publishRelease.code).toBe('FORBIDDEN');
  expect(lines).toEqual([
    expect.objectContaining({ requestId: 'req-123', operation: 'Publish', operationType: 'mutation', userId: 'bob', outcome: 'FORBIDDEN', status: 200 }),
  ]);
  expect(JSON.stringify(lines)).not.toContain(bob.split('.')[1]);
  expect(JSON.stringify(lines)).not.toContain('secret-notes');
});

it('echoes a plain x-request-id and replaces one that could forge log lines', async () => {
  capture();
  const plain = await postJson(api.url, { query: '{ __typename }' }, { 'x-request-id': 'abc.DEF-1:2' });
  expect(plain.headers.get('x-request-id')).toBe('abc.DEF-1:2');
  const forged = await postJson(api.url, { query: '{ __typename }' }, { 'x-request-id': 'x" injected="1' });
  expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(lines.map((l) => l.requestId)).toEqual(['abc.DEF-1:2', forged.headers.get('x-request-id')]);
});

it('logs requests refused before execution with their code or status', async () => {
  const restore = withEnv({ NODE_ENV: 'production', DB_TRACE: undefined, CORS_ORIGINS: 'https://ok.example' });
  try {
    capture();
    await postJson(api.url, { query: '{ __typename }' }, { origin: 'https://evil.example' });
    await rawRequest(`${api.url}?query=${encodeURIComponent('{ __typename }')}`);
    await api.gql('{ nope }');
    await api.gql('{ viewer { id } }', {}, { token: 'not-a-token' });
    expect(lines.map((l) => [l.outcome, l.status])).toEqual([
      ['HTTP_403', 403],
      ['HTTP_403', 403],
      ['GRAPHQL_VALIDATION_FAILED', 200],
      ['UNAUTHENTICATED', 401],
    ]);
  } finally {
    restore();
  }
});

it('names a subscription and its user, which never reach the execute hook', async () => {
  const alice = await api.token('alice');
  capture();
  const live = await subscribe(api.url, 'subscription Watch($postId: ID!) { postCounters(postId: $postId) { postId } }', { postId: 'not-an-id' }, {
    headers: { authorization: `Bearer ${alice}` },
  });
  expect((await live.next())?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  live.abort();
  expect(lines).toEqual([expect.objectContaining({ operation: 'Watch', operationType: 'subscription', userId: 'alice', status: 200 })]);
});
