// Trusted documents: schema/operations/persisted-documents.json (npm run codegen, kept current by
// test/web/codegen.test.ts) holds the web and mobile operations; PERSISTED_OPERATIONS=required runs only its operations, except for browsers from an allowed origin
// (the web app); strict runs only its operations for everyone.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { getOperationAST, parse, validate } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { postJson, rawRequest, withEnv } from './helpers.js';

const manifest = JSON.parse(readFileSync(new URL('../../schema/operations/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>;
const hashOf = (operationName: string) => Object.entries(manifest).find(([, doc]) => getOperationAST(parse(doc))?.name?.value === operationName)![0];
const documentHash = (document: string) => createHash('sha256').update(document, 'utf8').digest('hex');
const persisted = (operationName: string, variables: Record<string, unknown> = {}) => ({
  operationName,
  variables,
  extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(operationName) } },
});

describe('the manifest', () => {
  it('holds every operation of schema/mobile-operations.graphql and web/src/operations.graphql', () => {
    for (const file of ['../../schema/mobile-operations.graphql', '../../web/src/operations.graphql']) {
      const names = parse(readFileSync(new URL(file, import.meta.url), 'utf8')).definitions.flatMap((d) => (d.kind === 'OperationDefinition' ? [d.name!.value] : []));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(hashOf(name)).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('holds one valid operation per entry, keyed by the sha256 of its text', () => {
    expect(Object.keys(manifest).length).toBeGreaterThanOrEqual(10);
    for (const [hash, document] of Object.entries(manifest)) {
      expect(documentHash(document)).toBe(hash);
      const ast = parse(document);
      expect(ast.definitions.filter((d) => d.kind === 'OperationDefinition')).toHaveLength(1);
      expect(validate(schema, ast)).toEqual([]);
    }
  });
});

let api: TestApi;
const restores: (() => void)[] = [];

beforeAll(async () => {
  api = await startApi('persisted-operations');
});
afterAll(() => api.close());
afterEach(() => {
  while (restores.length > 0) restores.pop()!();
});

describe('serving persisted operations', () => {
  it('runs a manifest operation by its hash, over POST and over GET', async () => {
    const post = await postJson(api.url, persisted('MobileRegistryStats'));
    expect(post.json.data.registryStats).toEqual({ totalPackages: 0, totalReleases: 0, totalPosts: 0 });
    const { operationName, extensions } = persisted('MobileRegistryStats');
    const url = `${api.url}?operationName=${operationName}&extensions=${encodeURIComponent(JSON.stringify(extensions))}`;
    const get = await rawRequest(url, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(get.json.data.registryStats.totalPosts).toBe(0);
  });

  it('refuses an unknown hash', async () => {
    const response = await postJson(api.url, { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
    expect(response.status).toBe(400);
    expect(response.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('accepts arbitrary operations by default (PERSISTED_OPERATIONS=optional)', async () => {
    expect((await postJson(api.url, { query: '{ registryStats { totalPosts } }' })).json.data).toBeDefined();
  });

  it('with PERSISTED_OPERATIONS=required, refuses arbitrary operations from non-browser clients but not from the web app', async () => {
    restores.push(withEnv({ PERSISTED_OPERATIONS: 'required', CORS_ORIGINS: 'https://registry.example.com' }));
    const mobile = await postJson(api.url, { query: '{ registryStats { totalPosts } }' });
    expect(mobile.status).toBe(400);
    expect(mobile.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect((await postJson(api.url, persisted('MobileRegistryStats'))).json.data.registryStats).toBeDefined();
    const web = await postJson(api.url, { query: '{ registryStats { totalPosts } }' }, { origin: 'https://registry.example.com' });
    expect(web.json.data.registryStats).toBeDefined();
  });

  it('with PERSISTED_OPERATIONS=strict, refuses arbitrary operations from everyone', async () => {
    restores.push(withEnv({ PERSISTED_OPERATIONS: 'strict', CORS_ORIGINS: 'https://registry.example.com' }));
    const web = await postJson(api.url, { query: '{ registryStats { totalPosts } }' }, { origin: 'https://registry.example.com' });
    expect(web.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    const token = await api.token('mobile-user');
    const viewer = await postJson(api.url, persisted('MobileViewer'), { authorization: `Bearer ${token}` });
    expect(viewer.json.data.viewer).toEqual({ id: 'mobile-user', name: null });
  });
});
