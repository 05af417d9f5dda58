// The GraphQL-over-HTTP conformance audit from graphql-http, against the real server in its default
// (arbitrary-operations) configuration, with every security plugin in place. Browser-like GET requests carry
// the CSRF header, as documented for clients (docs/security.md).
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';

let api: TestApi;

beforeAll(async () => {
  // DB_TRACE adds an `extensions` entry to results; audits compare bodies, so run as deployed.
  api = await startApi('http-audit', { DB_TRACE: '0' });
});
afterAll(() => api.close());

/** fetch, with the header CSRF prevention requires of requests a browser would not preflight (GET). */
const fetchWithCsrfHeader: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('x-graphql-yoga-csrf', '1');
  return fetch(input, { ...init, headers });
};

describe('GraphQL over HTTP audit', () => {
  const audits = serverAudits({ url: () => api.url, fetchFn: fetchWithCsrfHeader });

  it('has audits to run', () => {
    expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThan(10);
  });

  for (const audit of audits) {
    const requirement = audit.name.split(' ')[0];
    // MUST audits have to pass; SHOULD and MAY are checked too, so any regression is noticed (none is waived).
    it(`${audit.id}: ${audit.name}`, async () => {
      const result = await audit.fn();
      expect(result.status, `${requirement} ${result.name}: ${'reason' in result ? result.reason : ''}`).toBe('ok');
    });
  }
});
