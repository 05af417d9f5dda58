// Production defaults and browser rules: introspection, field suggestions and GraphiQL off unless enabled; CORS
// only for CORS_ORIGINS (with preview wildcards) and the API's own origin; a 403 for any other browser origin;
// CSRF prevention for requests a browser would send without a preflight.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { postJson, rawRequest, withEnv } from './helpers.js';

let api: TestApi;
const restores: (() => void)[] = [];

beforeAll(async () => {
  api = await startApi('production-defaults');
});
afterAll(() => api.close());
afterEach(() => {
  // Undo in reverse order, back to the suite's environment.
  while (restores.length > 0) restores.pop()!();
});

/** Production as far as the API's settings go (DB_TRACE is refused at startup in production, so it goes too). */
function production(extra: Record<string, string | undefined> = {}) {
  restores.push(withEnv({ NODE_ENV: 'production', DB_TRACE: undefined, ...extra }));
}

const INTROSPECTION = '{ __schema { queryType { name } } }';
const TYPE_INTROSPECTION = '{ __type(name: "Post") { name } }';

describe('introspection and field suggestions', () => {
  it('are off in production', async () => {
    production();
    for (const query of [INTROSPECTION, TYPE_INTROSPECTION]) {
      const response = await api.gql(query);
      expect(response.errors?.[0]?.message).toMatch(/introspection has been disabled/);
      expect(response.data).toBeUndefined();
    }
    expect((await api.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
    const typo = await api.gql('{ registryStat { totalPosts } }');
    expect(typo.errors?.[0]?.message).toBe('Cannot query field "registryStat" on type "Query". [Suggestion hidden]');
  });

  it('are on in production with GRAPHQL_INTROSPECTION=1', async () => {
    production({ GRAPHQL_INTROSPECTION: '1' });
    expect((await api.gql(INTROSPECTION)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await api.gql('{ registryStat { totalPosts } }')).errors?.[0]?.message).toMatch(/Did you mean "registryStats"\?/);
  });

  it('are on outside production unless GRAPHQL_INTROSPECTION=0', async () => {
    expect((await api.gql(INTROSPECTION)).data).toBeDefined();
    restores.push(withEnv({ GRAPHQL_INTROSPECTION: '0' }));
    expect((await api.gql(INTROSPECTION)).errors?.[0]?.message).toMatch(/introspection has been disabled/);
  });
});

describe('GraphiQL', () => {
  const page = () => rawRequest(api.url, { headers: { accept: 'text/html' } });

  it('is served outside production only, unless GRAPHIQL says otherwise', async () => {
    expect((await page()).text).toMatch(/<html/i);
    production();
    expect((await page()).text).not.toMatch(/<html/i);
    production({ GRAPHIQL: '1' });
    expect((await page()).text).toMatch(/<html/i);
  });
});

describe('CORS_ORIGINS', () => {
  const preflight = (origin: string) =>
    rawRequest(api.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
  const fromOrigin = (origin: string) => postJson(api.url, { query: '{ __typename }' }, { origin });

  it('answers preflights only for listed origins and preview deployments matching the wildcard', async () => {
    production({ CORS_ORIGINS: 'https://registry.example.com, https://*-myteam.vercel.app' });
    for (const origin of ['https://registry.example.com', 'https://web-git-feature-x-myteam.vercel.app']) {
      const response = await preflight(origin);
      expect(response.headers.get('access-control-allow-origin'), origin).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect((await fromOrigin(origin)).status).toBe(200);
    }
    for (const origin of [
      'https://evil.example',
      'https://registry.example.com.evil.example',
      'https://a.b-myteam.vercel.app',
      'https://x-myteam.vercel.app.evil.example',
      'http://registry.example.com',
      'null',
    ]) {
      const response = await preflight(origin);
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
      // The request itself is refused too, so a "simple" cross-site request cannot even execute.
      const direct = await fromOrigin(origin);
      expect(direct.status, origin).toBe(403);
      expect(direct.json.errors[0].extensions.code).toBe('FORBIDDEN_ORIGIN');
    }
  });

  it('in production without CORS_ORIGINS allows only the API origin itself; requests without Origin are not browsers', async () => {
    production();
    expect((await fromOrigin('https://anywhere.example')).status).toBe(403);
    expect((await fromOrigin(new URL(api.url).origin)).status).toBe(200);
    expect((await postJson(api.url, { query: '{ __typename }' })).status).toBe(200);
  });

  it('outside production without CORS_ORIGINS allows any origin', async () => {
    expect((await preflight('http://localhost:5173')).headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it('refuses a CORS_ORIGINS value that is not a list of origins', async () => {
    production({ CORS_ORIGINS: 'https://ok.example, not an origin' });
    const response = await fromOrigin('https://ok.example');
    expect(response.status).toBe(500);
    production({ CORS_ORIGINS: 'https://ok.example/path' });
    expect((await fromOrigin('https://ok.example')).status).toBe(500);
  });
});

describe('CSRF prevention', () => {
  it('refuses GET requests and form posts without the x-graphql-yoga-csrf header, before parsing them', async () => {
    const get = await rawRequest(`${api.url}?query=${encodeURIComponent('{ __typename }')}`);
    expect(get.status).toBe(403);
    expect(get.json.errors[0].message).toMatch(/CSRF/);
    const withHeader = await rawRequest(`${api.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(withHeader.json).toMatchObject({ data: { __typename: 'Query' } });
    const form = await rawRequest(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${encodeURIComponent('mutation { recordView(postId: "0123456789abcdef01234567") { __typename } }')}`,
    });
    expect(form.status).toBe(403);
    const textPlain = await rawRequest(api.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(textPlain.status).toBe(403);
  });

  it('lets JSON POSTs through without it: browsers preflight them', async () => {
    expect((await postJson(api.url, { query: '{ __typename }' })).status).toBe(200);
  });
});
