// Publish tokens over HTTP: a secret shown once and stored only as its hash, scoped authentication for publishRelease
// and the draft mutations, identical refusals, lastUsedAt at most once a minute, and forced secret collisions.
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPublishToken, isWellFormedPublishToken, newPublishTokenSecret } from '../../src/tokens/publish-token-secret.js';
import { insertPublishToken, MAX_SECRET_ATTEMPTS } from '../../src/tokens/publish-token.ops.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { naiveInsertPublishToken } from '../concurrency/naive-registry-ops.js';
import { CREATE_DRAFT, CREATE_PUBLISH_TOKEN, PUBLISH_DRAFT, REVOKE_PUBLISH_TOKEN, YANK_RELEASE } from './documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('publish-tokens', {}, { transport: 'in-process' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  for (const name of ['ci-pkg', 'other-pkg']) await api.gql(CREATE_PACKAGE, { input: { name, summary: 's' } }, { token: alice });
  await api.gql(CREATE_PACKAGE, { input: { name: 'bobs-pkg', summary: 's' } }, { token: bob });
});
afterAll(() => api.close());

async function createToken(input: Record<string, unknown> = {}, token = alice) {
  const result = (await api.gql(CREATE_PUBLISH_TOKEN, { input: { name: 'CI', packageNames: ['CI_Pkg'], ...input } }, { token })).data!.createPublishToken;
  expect(result.__typename).toBe('CreatePublishTokenSuccess');
  return result as { secret: string; publishToken: { id: string; prefix: string; packageNames: string[]; expiresAt: string | null } };
}

const publishWith = (secret: string, packageName: string, version: string) =>
  api.gql(PUBLISH_RELEASE, { input: { packageName, version, sizeBytes: 1 } }, { headers: { authorization: `Bearer ${secret}` } });

async function everyDocumentText(): Promise<string> {
  const names = (await api.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  const docs = await Promise.all(names.map((name) => api.db.collection(name).find({}).toArray()));
  return JSON.stringify(docs);
}

describe('createPublishToken', () => {
  it('returns a reg_ secret with a checksum once; only its SHA-256 is stored', async () => {
    const { secret, publishToken } = await createToken({ expiresInDays: 30 });
    expect(secret).toMatch(/^reg_[0-9A-Za-z]{49}$/);
    expect(isWellFormedPublishToken(secret)).toBe(true);
    expect(isWellFormedPublishToken(`${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}`)).toBe(false);
    expect(publishToken).toMatchObject({ prefix: secret.slice(0, 12), packageNames: ['ci-pkg'] });
    expect(new Date(publishToken.expiresAt!).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const stored = await api.db.collection('publishTokens').findOne({ _id: new ObjectId(publishToken.id) });
    expect(stored!.secretHash).toBe(hashPublishToken(secret));
    expect(await everyDocumentText()).not.toContain(secret.slice(12));
  });

  it('is listed on viewer without its secret, and only there', async () => {
    const { publishToken } = await createToken({ name: 'Listed' });
    const listed = (await api.gql(`{ viewer { publishTokens { id name prefix packageNames createdAt lastUsedAt expiresAt } } }`, {}, { token: alice })).data!.viewer.publishTokens;
    expect(listed[0]).toMatchObject({ id: publishToken.id, name: 'Listed', packageNames: ['ci-pkg'], lastUsedAt: null, expiresAt: null });
    expect((await api.gql(`{ viewer { publishTokens { id } } }`, {}, { token: bob })).data!.viewer.publishTokens).toEqual([]);
    const maintainers = (await api.gql(`{ package(name: "ci-pkg") { maintainers { id publishTokens { id } } } }`, {}, { token: bob })).data!.package.maintainers;
    expect(maintainers).toEqual([{ id: 'alice', publishTokens: null }]);
  });

  it('refuses an Idempotency-Key, whose stored answer would keep the secret', async () => {
    const response = await api.gql(CREATE_PUBLISH_TOKEN, { input: { name: 'CI', packageNames: ['ci-pkg'] } }, { token: alice, headers: { 'idempotency-key': 'k-1' } });
    expect(response.data!.createPublishToken.code).toBe('VALIDATION');
  });
});

describe('authenticating with a publish token', () => {
  it('publishes releases and drafts of its packages only; everything else is FORBIDDEN', async () => {
    const { secret } = await createToken();
    expect((await publishWith(secret, 'ci-pkg', '1.0.0')).data!.publishRelease.__typename).toBe('PublishReleaseSuccess');
    const draftHeaders = { headers: { authorization: `Bearer ${secret}` } };
    expect((await api.gql(CREATE_DRAFT, { input: { packageName: 'ci-pkg', version: '1.1.0', sizeBytes: 3 } }, draftHeaders)).data!.createReleaseDraft.__typename).toBe('CreateReleaseDraftSuccess');
    expect((await api.gql(PUBLISH_DRAFT, { input: { packageName: 'ci-pkg', version: '1.1.0' } }, draftHeaders)).data!.publishReleaseDraft.__typename).toBe('PublishReleaseDraftSuccess');
    // Another package the owner maintains: the mutation's typed FORBIDDEN.
    expect((await publishWith(secret, 'other-pkg', '1.0.0')).data!.publishRelease.code).toBe('FORBIDDEN');
    // Any other mutation: refused before it runs.
    const yank = await api.gql(YANK_RELEASE, { input: { packageName: 'ci-pkg', version: '1.0.0' } }, draftHeaders);
    expect(yank.status).toBe(403);
    expect(yank.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const create = await api.gql(CREATE_PUBLISH_TOKEN, { input: { name: 'x', packageNames: ['ci-pkg'] } }, draftHeaders);
    expect(create.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await api.gql(`{ viewer { id publishTokens { id } } }`, {}, draftHeaders)).data!.viewer).toEqual({ id: 'alice', publishTokens: null });
    // Drafts are readable with the token only for its own packages.
    await api.gql(CREATE_DRAFT, { input: { packageName: 'other-pkg', version: '0.0.1' } }, { token: alice });
    const visible = await api.gql(`{ a: package(name: "ci-pkg") { drafts { version } } b: package(name: "other-pkg") { drafts { version } } }`, {}, draftHeaders);
    expect(visible.data).toEqual({ a: { drafts: [] }, b: { drafts: null } });
    const stored = (await api.db.collection('packages').findOne({ _id: 'ci-pkg' as never }))!;
    expect(stored.releases.map((r: { version: string; yank?: unknown }) => [r.version, r.yank ?? null])).toEqual([['1.1.0', null], ['1.0.0', null]]);
  });

  it('works only while its owner maintains the package', async () => {
    const { secret } = await createToken({ packageNames: ['bobs-pkg'] });
    expect((await publishWith(secret, 'bobs-pkg', '1.0.0')).data!.publishRelease.code).toBe('FORBIDDEN');
    await api.db.collection('packages').updateOne({ _id: 'bobs-pkg' as never }, { $push: { maintainers: 'alice' } as never });
    expect((await publishWith(secret, 'bobs-pkg', '1.0.0')).data!.publishRelease.__typename).toBe('PublishReleaseSuccess');
    await api.db.collection('packages').updateOne({ _id: 'bobs-pkg' as never }, { $pull: { maintainers: 'alice' } as never });
    expect((await publishWith(secret, 'bobs-pkg', '1.0.1')).data!.publishRelease.code).toBe('FORBIDDEN');
  });

  it('refuses revoked, expired, unknown and mangled tokens with one and the same answer', async () => {
    const revoked = await createToken();
    const revoke = (await api.gql(REVOKE_PUBLISH_TOKEN, { id: revoked.publishToken.id }, { token: alice })).data!.revokePublishToken;
    expect(revoke.__typename).toBe('RevokePublishTokenSuccess');
    expect((await api.gql(REVOKE_PUBLISH_TOKEN, { id: revoked.publishToken.id }, { token: alice })).data!.revokePublishToken.__typename).toBe('RevokePublishTokenSuccess');
    // Someone else's token is NOT_FOUND, exactly like one that does not exist.
    const bobs = await createToken({ packageNames: ['bobs-pkg'] }, bob);
    const foreign = (await api.gql(REVOKE_PUBLISH_TOKEN, { id: bobs.publishToken.id }, { token: alice })).data!.revokePublishToken;
    const missing = (await api.gql(REVOKE_PUBLISH_TOKEN, { id: new ObjectId().toHexString() }, { token: alice })).data!.revokePublishToken;
    expect(foreign.code).toBe('NOT_FOUND');
    expect(missing.code).toBe('NOT_FOUND');
    const expired = await createToken({ expiresInDays: 1 });
    await api.db.collection('publishTokens').updateOne({ _id: new ObjectId(expired.publishToken.id) }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const valid = await createToken();
    const mangled = `${valid.secret.slice(0, 20)}${valid.secret[20] === 'A' ? 'B' : 'A'}${valid.secret.slice(21)}`;
    const unknown = `reg_${'0'.repeat(49)}`;
    const answers = await Promise.all([revoked.secret, expired.secret, mangled, unknown].map((secret) => publishWith(secret, 'ci-pkg', '9.9.9')));
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.errors).toEqual([expect.objectContaining({ message: 'The token is invalid.', extensions: { code: 'UNAUTHENTICATED' } })]);
    }
    expect((await publishWith(valid.secret, 'ci-pkg', '9.9.9')).data!.publishRelease.__typename).toBe('PublishReleaseSuccess');
  });
});

describe('lastUsedAt', () => {
  it('is written on first use, not again within the minute, and never moves backwards', async () => {
    const { secret, publishToken } = await createToken();
    const id = new ObjectId(publishToken.id);
    const stored = () => api.db.collection('publishTokens').findOne({ _id: id });
    await publishWith(secret, 'ci-pkg', '2.0.0');
    const used = (await stored())!.lastUsedAt as Date;
    expect(used).toBeInstanceOf(Date);
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => publishWith(secret, 'ci-pkg', `2.0.${i + 1}`)));
    expect(burst.every((r) => r.data!.publishRelease.__typename === 'PublishReleaseSuccess')).toBe(true);
    expect((await stored())!.lastUsedAt).toEqual(used);
    // A minute later it moves to the database clock...
    await api.db.collection('publishTokens').updateOne({ _id: id }, { $set: { lastUsedAt: new Date(Date.now() - 61_000) } });
    await publishWith(secret, 'ci-pkg', '2.1.0');
    expect(((await stored())!.lastUsedAt as Date).getTime()).toBeGreaterThan(Date.now() - 5_000);
    // ...but never backwards, whatever an instance's clock says.
    const future = new Date(Date.now() + 3_600_000);
    await api.db.collection('publishTokens').updateOne({ _id: id }, { $set: { lastUsedAt: new Date(Date.now() - 61_000) } });
    await api.db.collection('publishTokens').updateOne({ _id: id }, { $set: { lastUsedAt: future } });
    await publishWith(secret, 'ci-pkg', '2.2.0');
    expect((await stored())!.lastUsedAt).toEqual(future);
  });
});

describe('secret collisions, forced by a deterministic source', () => {
  /** Returns each 32-byte value (from `first` on) `repeat` times in a row, from a counter shared by every caller. */
  function collidingSource(repeat: number, first = 0) {
    let calls = 0;
    const source = () => {
      const value = first + Math.floor(calls++ / repeat);
      return Buffer.alloc(32, value % 256);
    };
    return { source, calls: () => calls };
  }

  it('20 users created at once, each colliding twice (with an existing token, then with each other): all succeed, none share', async () => {
    const existing = await insertPublishToken(api.db, { userId: 'existing', name: 'CI', packageNames: ['ci-pkg'], expiresInDays: null }, () => Buffer.alloc(32, 7));
    // User i draws: the existing token's bytes, then bytes shared with every fourth user, then bytes of its own.
    const sourceFor = (i: number) => {
      const draws = [Buffer.alloc(32, 7), Buffer.alloc(32, 10 + (i % 4)), Buffer.alloc(32, 50 + i)];
      return () => draws.shift()!;
    };
    const created = await Promise.all(
      Array.from({ length: 20 }, (_, i) => insertPublishToken(api.db, { userId: `collider-${i}`, name: 'CI', packageNames: ['ci-pkg'], expiresInDays: null }, sourceFor(i))),
    );
    const hashes = [existing, ...created].map((c) => c.token.secretHash);
    expect(new Set(hashes).size).toBe(21);
    expect(await api.db.collection('publishTokens').countDocuments({ userId: { $regex: '^collider-' } })).toBe(20);
    // Exactly one user won each of the four shared values; the other 16 went on to their own.
    const sharedHashes = new Set([0, 1, 2, 3].map((k) => hashPublishToken(newPublishTokenSecret(() => Buffer.alloc(32, 10 + k)))));
    expect(hashes.filter((h) => sharedHashes.has(h))).toHaveLength(4);
  });

  it(`fails only when all ${MAX_SECRET_ATTEMPTS} draws collide`, async () => {
    const { source: stuck } = collidingSource(1_000, 100);
    await insertPublishToken(api.db, { userId: 'stuck-1', name: 'CI', packageNames: ['ci-pkg'], expiresInDays: null }, stuck);
    const counting = collidingSource(MAX_SECRET_ATTEMPTS - 1, 100);
    // The first MAX - 1 draws collide with stuck-1's secret, the next is new: it still succeeds.
    const late = await insertPublishToken(api.db, { userId: 'late', name: 'CI', packageNames: ['ci-pkg'], expiresInDays: null }, counting.source);
    expect(counting.calls()).toBe(MAX_SECRET_ATTEMPTS);
    expect(late.token.userId).toBe('late');
    await expect(insertPublishToken(api.db, { userId: 'stuck-2', name: 'CI', packageNames: ['ci-pkg'], expiresInDays: null }, stuck)).rejects.toThrow(/no unique publish-token secret/);
    expect(await api.db.collection('publishTokens').countDocuments({ userId: 'stuck-2' })).toBe(0);
  });

  it('naive check-then-insert without the unique index gives two users the same token (the test can fail)', async () => {
    const { source } = collidingSource(1_000);
    await Promise.all(Array.from({ length: 10 }, (_, i) => naiveInsertPublishToken(api.db, `naive-${i}`, source)));
    const docs = await api.db.collection('naivePublishTokens').find({}).toArray();
    expect(new Set(docs.map((d) => d.secretHash)).size).toBeLessThan(docs.length);
  });
});
