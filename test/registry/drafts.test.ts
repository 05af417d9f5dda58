// Release drafts over HTTP: create, edit only the fields sent, revision conflicts, publish in one write, delete,
// and drafts invisible to anyone but the package's maintainers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../helpers/documents.js';
import { CREATE_DRAFT, DELETE_DRAFT, PUBLISH_DRAFT, UPDATE_DRAFT } from './documents.js';

let api: TestApi;
let alice: string;
let bob: string;

beforeAll(async () => {
  api = await startApi('drafts', {}, { transport: 'in-process' });
  alice = await api.token('alice');
  bob = await api.token('bob');
  await api.gql(CREATE_PACKAGE, { input: { name: 'drafty', summary: 's' } }, { token: alice });
});
afterAll(() => api.close());

const create = (input: Record<string, unknown>, token = alice) => api.gql(CREATE_DRAFT, { input: { packageName: 'drafty', ...input } }, { token });
const update = (input: Record<string, unknown>, token = alice) => api.gql(UPDATE_DRAFT, { input: { packageName: 'drafty', ...input } }, { token });
const publish = (version: string, token = alice) => api.gql(PUBLISH_DRAFT, { input: { packageName: 'drafty', version } }, { token });
const drafts = async (token?: string) => (await api.gql(`{ package(name: "drafty") { drafts { version notes sizeBytes revision } } }`, {}, { token })).data!.package.drafts;

describe('createReleaseDraft', () => {
  it('creates a draft at revision 1, visible to maintainers only', async () => {
    const result = (await create({ version: '1.0.0', notes: 'first' })).data!.createReleaseDraft;
    expect(result).toEqual({ __typename: 'CreateReleaseDraftSuccess', draft: { version: '1.0.0', notes: 'first', sizeBytes: null, revision: 1 } });
    expect(await drafts(alice)).toEqual([{ version: '1.0.0', notes: 'first', sizeBytes: null, revision: 1 }]);
    expect(await drafts()).toBeNull();
    expect(await drafts(bob)).toBeNull();
  });

  it('refuses a second draft of a version (ALREADY_EXISTS), a published version (CONFLICT), and non-maintainers', async () => {
    expect((await create({ version: '1.0.0' })).data!.createReleaseDraft.code).toBe('ALREADY_EXISTS');
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'drafty', version: '0.1.0', sizeBytes: 1 } }, { token: alice });
    expect((await create({ version: '0.1.0' })).data!.createReleaseDraft.code).toBe('CONFLICT');
    expect((await create({ version: '3.0.0' }, bob)).data!.createReleaseDraft.code).toBe('FORBIDDEN');
    expect((await api.gql(CREATE_DRAFT, { input: { packageName: 'nope', version: '1.0.0' } }, { token: alice })).data!.createReleaseDraft.code).toBe('NOT_FOUND');
    expect((await create({ version: 'v1' })).data!.createReleaseDraft.code).toBe('VALIDATION');
  });
});

describe('updateReleaseDraft', () => {
  it('writes only the fields sent and bumps the revision', async () => {
    expect((await update({ version: '1.0.0', sizeBytes: 2048 })).data!.updateReleaseDraft.draft).toEqual({ version: '1.0.0', notes: 'first', sizeBytes: 2048, revision: 2 });
    expect((await update({ version: '1.0.0', notes: 'better' })).data!.updateReleaseDraft.draft).toEqual({ version: '1.0.0', notes: 'better', sizeBytes: 2048, revision: 3 });
    expect((await update({ version: '1.0.0', notes: null })).data!.updateReleaseDraft.draft).toMatchObject({ notes: null, sizeBytes: 2048, revision: 4 });
  });

  it('with expectedRevision applies only at that revision; CONFLICT carries the current one', async () => {
    expect((await update({ version: '1.0.0', notes: 'at 4', expectedRevision: 4 })).data!.updateReleaseDraft.draft.revision).toBe(5);
    const stale = (await update({ version: '1.0.0', notes: 'at 4 again', expectedRevision: 4 })).data!.updateReleaseDraft;
    expect(stale).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', currentVersion: 5 });
    expect((await drafts(alice))[0].notes).toBe('at 4');
  });

  it('refuses an empty edit, a missing draft and non-maintainers', async () => {
    expect((await update({ version: '1.0.0' })).data!.updateReleaseDraft.code).toBe('VALIDATION');
    expect((await update({ version: '9.0.0', notes: 'x' })).data!.updateReleaseDraft.code).toBe('NOT_FOUND');
    expect((await update({ version: '1.0.0', notes: 'x' }, bob)).data!.updateReleaseDraft.code).toBe('FORBIDDEN');
  });
});

describe('publishReleaseDraft', () => {
  it('refuses a draft without sizeBytes', async () => {
    await create({ version: '2.0.0' });
    expect((await publish('2.0.0')).data!.publishReleaseDraft).toMatchObject({ code: 'VALIDATION', problems: [{ path: 'sizeBytes' }] });
  });

  it('makes the draft a release in one write: appended in semver order, counted, the draft removed', async () => {
    const result = await publish('1.0.0');
    expect(result.data!.publishReleaseDraft).toMatchObject({
      __typename: 'PublishReleaseDraftSuccess',
      release: { version: '1.0.0', sizeBytes: 2048, notes: 'at 4', yanked: false },
      package: { releaseCount: 2, latestRelease: { version: '1.0.0' } },
    });
    const writes = result.extensions!.dbOps!.filter((op) => op.collection === 'packages').map((op) => op.command);
    expect(writes).toEqual(['findAndModify']);
    expect((await drafts(alice)).map((d: { version: string }) => d.version)).toEqual(['2.0.0']);
    const stored = (await api.db.collection('packages').findOne({ _id: 'drafty' as never }))!;
    expect(stored.releases.map((r: { version: string }) => r.version)).toEqual(['1.0.0', '0.1.0']);
    expect(stored.releases[0].publishedAt).toBeInstanceOf(Date);
  });

  it('answers CONFLICT and keeps the draft when the version was published meanwhile; NOT_FOUND without a draft', async () => {
    await update({ version: '2.0.0', sizeBytes: 1 });
    await api.gql(PUBLISH_RELEASE, { input: { packageName: 'drafty', version: '2.0.0', sizeBytes: 5 } }, { token: alice });
    expect((await publish('2.0.0')).data!.publishReleaseDraft.code).toBe('CONFLICT');
    expect((await drafts(alice)).map((d: { version: string }) => d.version)).toEqual(['2.0.0']);
    expect((await publish('1.0.0')).data!.publishReleaseDraft.code).toBe('CONFLICT');
    expect((await publish('7.0.0')).data!.publishReleaseDraft.code).toBe('NOT_FOUND');
    expect((await publish('2.0.0', bob)).data!.publishReleaseDraft.code).toBe('FORBIDDEN');
  });
});

describe('deleteReleaseDraft', () => {
  it('deletes a draft; NOT_FOUND the second time; FORBIDDEN for others', async () => {
    expect((await api.gql(DELETE_DRAFT, { input: { packageName: 'drafty', version: '2.0.0' } }, { token: bob })).data!.deleteReleaseDraft.code).toBe('FORBIDDEN');
    expect((await api.gql(DELETE_DRAFT, { input: { packageName: 'drafty', version: '2.0.0' } }, { token: alice })).data!.deleteReleaseDraft).toEqual({ __typename: 'DeleteReleaseDraftSuccess', version: '2.0.0' });
    expect((await api.gql(DELETE_DRAFT, { input: { packageName: 'drafty', version: '2.0.0' } }, { token: alice })).data!.deleteReleaseDraft.code).toBe('NOT_FOUND');
    expect(await drafts(alice)).toEqual([]);
  });

  it('keeps at most 20 drafts per package', async () => {
    await api.gql(CREATE_PACKAGE, { input: { name: 'many-drafts', summary: 's' } }, { token: alice });
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => api.gql(CREATE_DRAFT, { input: { packageName: 'many-drafts', version: `0.0.${i}` } }, { token: alice })));
    const types = results.map((r) => r.data!.createReleaseDraft.__typename);
    expect(types.filter((t) => t === 'CreateReleaseDraftSuccess')).toHaveLength(20);
    expect(types.filter((t) => t === 'ValidationError')).toHaveLength(5);
  });
});
