// Query limits: documents over a limit are refused before execution with a clear error, and the API's database
// client starts no command for them (watched through the driver's command monitoring, which sees commands whether
// or not execution began; a control request shows the watch does see them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { postJson, rawRequest, watchDatabaseCommands } from './helpers.js';

let api: TestApi;
let commands: ReturnType<typeof watchDatabaseCommands>;

beforeAll(async () => {
  api = await startApi('limits');
  // The first request creates the API's client; the watch attaches to it.
  expect((await api.gql('{ registryStats { totalPosts } }')).errors).toBeUndefined();
  commands = watchDatabaseCommands();
});
afterAll(async () => {
  commands.stop();
  await api.close();
});

/** Sends a refused request and checks it was refused before anything reached the database. */
async function expectRefusedUnread(send: () => Promise<{ status: number; json?: any; errors?: any[]; data?: unknown }>) {
  commands.reset();
  const response = await send();
  const errors = response.json?.errors ?? response.errors;
  expect(errors?.length, JSON.stringify(response)).toBeGreaterThan(0);
  expect(response.json?.data ?? response.data ?? null).toBeNull();
  expect(commands.names()).toEqual([]);
  return { status: response.status, errors: errors as { message: string; extensions?: Record<string, unknown> }[] };
}

describe('the command watch', () => {
  it('sees the commands of an ordinary request (the control for every "no command" assertion below)', async () => {
    commands.reset();
    await api.gql('{ registryStats { totalPosts } }');
    expect(commands.names()).toContain('aggregate:packages');
  });
});

describe('documents over a limit are refused before execution', () => {
  it('refuses a depth-20 query (MAX_DEPTH, default 8)', async () => {
    // __type(...).ofType nests without end, so this depth is valid against the schema and only the limit stops it.
    const query = `{ __type(name: "Post") { ${'ofType { '.repeat(19)}name${' }'.repeat(19)} } }`;
    const { status, errors } = await expectRefusedUnread(() => api.gql(query));
    expect(status).toBe(200); // application/json clients get 200 for validation errors, per GraphQL over HTTP
    // Its estimated cost is over the limit too; both are reported.
    expect(errors.map((e) => e.message)).toContain('Syntax Error: Query depth limit of 8 exceeded, found 21.');
    expect(errors.every((e) => e.extensions?.code === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
  });

  it('refuses 1,000 aliases (a document that size already exceeds MAX_TOKENS, default 1,000)', async () => {
    const query = `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: registryStats { totalPosts }`).join(' ')} }`;
    const { errors } = await expectRefusedUnread(() => api.gql(query));
    expect(errors[0]!.message).toMatch(/Token limit of 1000 exceeded/);
  });

  it('refuses 16 aliases (MAX_ALIASES, default 15)', async () => {
    const query = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: registryStats { totalPosts }`).join(' ')} }`;
    const { errors } = await expectRefusedUnread(() => api.gql(query));
    expect(errors[0]!.message).toMatch(/Aliases limit of 15 exceeded, found 16/);
  });

  it('refuses 51 directives (MAX_DIRECTIVES, default 50)', async () => {
    const query = `{ registryStats { totalPosts ${'@include(if: true) '.repeat(51)} } }`;
    const { errors } = await expectRefusedUnread(() => api.gql(query));
    expect(errors[0]!.message).toMatch(/Directives limit of 50 exceeded, found 51/);
  });

  it('refuses a query whose estimated cost is over MAX_COST (default 10,000)', async () => {
    const post = 'id title body likeCount viewCount author { id name } package { name summary description keywords releaseCount releases { version notes sizeBytes publishedAt } maintainers { id name } }';
    const { errors } = await expectRefusedUnread(() => api.gql(`{ posts(first: 100) { edges { node { ${post} } } } }`));
    expect(errors[0]!.message).toMatch(/Cost limit of 10000 exceeded/);
  });

  it('refuses first: 100000 written inline and passed as a variable, and last: -1', async () => {
    const inline = await expectRefusedUnread(() => api.gql('{ posts(first: 100000) { edges { node { id } } } }'));
    expect(inline.errors[0]).toMatchObject({ message: '"first" must be between 0 and 100.', extensions: { code: 'BAD_USER_INPUT' } });
    const variable = await expectRefusedUnread(() =>
      api.gql('query ($n: Int) { packages(first: $n) { edges { node { name } } } }', { n: 100_000 }),
    );
    expect(variable.errors[0]).toMatchObject({ message: '"first" must be between 0 and 100.', extensions: { code: 'BAD_USER_INPUT' } });
    const negative = await expectRefusedUnread(() => api.gql('query ($n: Int) { posts(last: $n) { edges { node { id } } } }', { n: -1 }));
    expect(negative.errors[0]!.message).toBe('"last" must be between 0 and 100.');
  });

  it('still serves first: 100', async () => {
    const response = await api.gql('{ posts(first: 100) { edges { node { id } } } }');
    expect(response.errors).toBeUndefined();
  });
});

describe('request bodies over MAX_BODY_BYTES (default 100 kB) get 413 before parsing', () => {
  const fiveMegabytes = JSON.stringify({ query: '{ registryStats { totalPosts } }', variables: { padding: 'x'.repeat(5 * 1024 * 1024) } });

  it('refuses a 5 MB body by its Content-Length', async () => {
    const response = await expectRefusedUnread(() =>
      rawRequest(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: fiveMegabytes }),
    );
    expect(response.status).toBe(413);
    expect(response.errors[0]).toMatchObject({ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } });
  });

  it('refuses a 5 MB body streamed without Content-Length once 100 kB have arrived', async () => {
    const bytes = new TextEncoder().encode(fiveMegabytes);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const response = await expectRefusedUnread(() =>
      rawRequest(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit),
    );
    expect(response.status).toBe(413);
  });

  it('accepts a body just under the limit', async () => {
    const query = '{ registryStats { totalPosts } }';
    const padding = 'x'.repeat(100_000 - JSON.stringify({ query, variables: { padding: '' } }).length);
    const response = await postJson(api.url, { query, variables: { padding } });
    expect(response.status).toBe(200);
    expect(response.json.errors).toBeUndefined();
  });
});

describe('batching is off', () => {
  it('refuses a JSON array of operations', async () => {
    const response = await expectRefusedUnread(() => postJson(api.url, [{ query: '{ registryStats { totalPosts } }' }, { query: '{ viewer { id } }' }]));
    expect(response.status).toBe(400);
  });
});
