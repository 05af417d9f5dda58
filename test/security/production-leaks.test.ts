// Production answers name no schema member in any error path ("Did you mean" in validation, argument, type and
// variable-coercion errors alike), and a browser Origin passes as the API's own only with the same scheme, host and port.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stripSuggestions } from '../../src/security/suggestions.plugin.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { postJson, withEnv } from './helpers.js';

let api: TestApi;
let token: string;
const restores: (() => void)[] = [];

beforeAll(async () => {
  api = await startApi('production-leaks');
  token = await api.token('leaks-user');
});
afterAll(() => api.close());
afterEach(() => {
  while (restores.length > 0) restores.pop()!();
});

function production(extra: Record<string, string | undefined> = {}) {
  restores.push(withEnv({ NODE_ENV: 'production', DB_TRACE: undefined, ...extra }));
}

const CREATE = 'mutation ($input: CreatePackageInput!) { createPackage(input: $input) { __typename } }';
/** Requests graphql-js answers with a suggestion: a variable's input field, an argument, a type, a field. */
const SUGGESTING: { name: string; query: string; variables?: Record<string, unknown> }[] = [
  { name: 'variable coercion', query: CREATE, variables: { input: { nmae: 'x', summary: 's' } } },
  { name: 'argument', query: '{ package(nme: "x") { name } }' },
  { name: 'type', query: 'query ($i: CreatePackageInpt!) { package(name: "x") { name } }' },
  { name: 'field', query: '{ registryStat { totalPosts } }' },
];

describe('"Did you mean"', () => {
  it.each(SUGGESTING)('is never sent in production ($name errors)', async ({ query, variables }) => {
    production();
    const response = await postJson(api.url, { query, variables }, { authorization: `Bearer ${token}` });
    expect(response.json.errors.length).toBeGreaterThan(0);
    expect(response.text).not.toMatch(/did you mean/i);
  });

  it('stays in development, where introspection shows the schema anyway', async () => {
    const response = await postJson(api.url, { query: CREATE, variables: { input: { nmae: 'x', summary: 's' } } }, { authorization: `Bearer ${token}` });
    expect(response.text).toContain('Did you mean \\"name\\"?');
  });

  it('is cut from any message, however many names it lists', () => {
    expect(stripSuggestions('Field "nmae" is not defined by type "X". Did you mean "name", "game", or "same"?')).toBe(
      'Field "nmae" is not defined by type "X". [Suggestion hidden]',
    );
    expect(stripSuggestions('Value "A" does not exist in "E" enum. Did you mean the enum value "B"?')).toBe('Value "A" does not exist in "E" enum. [Suggestion hidden]');
  });
});

describe("the API's own origin", () => {
  const ask = (origin: string, headers: Record<string, string> = {}) => postJson(api.url, { query: '{ __typename }' }, { origin, ...headers });

  it('must match scheme, host and port', async () => {
    production();
    const own = new URL(api.url).origin;
    expect((await ask(own)).status).toBe(200);
    for (const other of [own.replace('http:', 'https:'), own.replace(/:\d+$/, ':1'), 'http://localhost']) {
      expect((await ask(other)).status, other).toBe(403);
    }
  });

  it('ignores a client-sent x-forwarded-proto where no proxy sets it', async () => {
    production();
    const https = new URL(api.url).origin.replace('http:', 'https:');
    expect((await ask(https, { 'x-forwarded-proto': 'https' })).status).toBe(403);
  });
});
