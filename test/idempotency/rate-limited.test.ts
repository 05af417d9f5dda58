// A RATE_LIMITED answer describes the moment, not the request: it is never stored under the Idempotency-Key (the key is
// not even claimed, since the limit is checked before), so the client's retry (after Retry-After) executes instead of
// replaying "too many requests" for 24 hours.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyRecordId, keyScope } from '../../src/idempotency/idempotency-key.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE } from '../helpers/documents.js';

let api: TestApi;
let token: string;

beforeAll(async () => {
  api = await startApi('idempotency-rate', { RATE_LIMITS: 'createPackage=1/3600' });
  token = await api.token('limited');
});
afterAll(() => api.close());

it('gives the key back instead of storing a RATE_LIMITED answer, so the retry executes instead of replaying it', async () => {
  const first = await api.gql(CREATE_PACKAGE, { input: { name: 'allowed', summary: 's' } }, { token, headers: { 'idempotency-key': 'k1' } });
  expect(first.data!.createPackage.__typename).toBe('CreatePackageSuccess');

  const key = 'k2';
  // Selecting nothing of the error type: the refusal is invisible in the body, and still must not be stored.
  const blind = `mutation ($input: CreatePackageInput!) { createPackage(input: $input) { ... on CreatePackageSuccess { package { name } } } }`;
  const limited = await api.gql(blind, { input: { name: 'later', summary: 's' } }, { token, headers: { 'idempotency-key': key } });
  expect(limited.data!.createPackage).toEqual({});
  const record = await api.db.collection('idempotencyKeys').findOne({ _id: keyRecordId(keyScope({ id: 'limited', name: null }), key) as never });
  expect(record).toBeNull();

  // The same key again executes again (still limited here, since the window is an hour): not a replay.
  const response = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key },
    body: JSON.stringify({ query: blind, variables: { input: { name: 'later', summary: 's' } } }),
  });
  expect(response.headers.get('idempotent-replayed')).toBeNull();
  expect(await api.db.collection('packages').findOne({ _id: 'later' as never })).toBeNull();
});
