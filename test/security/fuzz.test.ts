// Fuzzing every mutation and every query field with 2,000 generated inputs each (huge and empty strings, unicode, control characters,
// "$"-prefixed and JSON-looking strings, out-of-range and NaN-like numbers, wrong types, missing fields): never a
// 5xx, never an unexpected (masked) error, and refused calls change nothing in the database. Rate limits are off
// (startApi's default) so that every call reaches validation and the ops. Requests go through the one Yoga
// instance in-process, to fit 20,000 of them in seconds; FUZZ_SEED reproduces a run, FUZZ_RUNS changes its size.
//
// "Refusals write nothing" is shown two ways: a refused call whose DB_TRACE lists no write command cannot have
// changed anything; the refused calls that did send a write (a guarded update that matched nothing) are replayed
// against a database digest, which must not move.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { EJSON, ObjectId } from 'bson';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { schema } from '../../src/schema.js';
import { yoga } from '../../src/yoga.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { CREATE_PACKAGE, CREATE_POST, PUBLISH_RELEASE } from '../helpers/documents.js';
import { creditPurchase, sponsorPackage } from '../../src/credits/credits.ops.js';

const RUNS_PER_MUTATION = Number(process.env.FUZZ_RUNS ?? 2000);
const REPLAYS_PER_MUTATION = 150;
const CONCURRENCY = 16;
const WRITE_COMMANDS = new Set(['insert', 'update', 'delete', 'findAndModify', 'bulkWrite']);
const MUTATIONS = Object.keys(schema.getMutationType()!.getFields());
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_605);
// Most fuzzed calls end in a GraphQL or validation error; capturing (and source-mapping) a stack for each one is
// most of their cost and tells this test nothing.
Error.stackTraceLimit = 0;

/** Drafts per draft mutation, so that publish and delete (which use them up) leave the others theirs. */
const DRAFTS_FOR: Record<string, string[]> = {
  publishReleaseDraft: ['5.0.0', '5.0.1', '5.0.2', '5.0.3', '5.0.4'],
  deleteReleaseDraft: ['5.1.0', '5.1.1', '5.1.2', '5.1.3', '5.1.4'],
  updateReleaseDraft: ['6.0.0', '6.0.1'],
};
const CREATE_RELEASE_DRAFT = `mutation ($input: CreateReleaseDraftInput!) { createReleaseDraft(input: $input) { __typename } }`;

let api: TestApi;
let tokens: (string | undefined)[];
let postIds: string[];
/** Posts only deletePost aims at, so the posts the other mutations aim at stay. */
let deletablePostIds: string[];
/** Publish tokens revokePublishToken aims at. */
let publishTokenIds: string[];

beforeAll(async () => {
  api = await startApi('fuzz', {}, { transport: 'in-process' });
  const fuzzer = await api.token('fuzzer', 'Fuzzer');
  const other = await api.token('other', 'Other');
  tokens = [fuzzer, fuzzer, fuzzer, other, undefined];
  await api.gql(CREATE_PACKAGE, { input: { name: 'fuzz-target', summary: 'Fuzzed' } }, { token: fuzzer });
  await api.gql(CREATE_PACKAGE, { input: { name: 'other-pkg', summary: 'Not the fuzzer’s' } }, { token: other });
  await api.gql(PUBLISH_RELEASE, { input: { packageName: 'fuzz-target', version: '1.0.0', sizeBytes: 1 } }, { token: fuzzer });
  // Drafts the draft mutations aim at (publish and delete use them up, create makes more).
  publishTokenIds = [];
  for (const token of [fuzzer, fuzzer, other]) {
    const created = await api.gql(`mutation { createPublishToken(input: {name: "fuzz", packageNames: ["fuzz-target"]}) { ... on CreatePublishTokenSuccess { publishToken { id } } } }`, {}, { token });
    publishTokenIds.push(created.data!.createPublishToken.publishToken.id);
  }
  for (const version of Object.values(DRAFTS_FOR).flat()) {
    await api.gql(CREATE_RELEASE_DRAFT, { input: { packageName: 'fuzz-target', version, sizeBytes: 1 } }, { token: fuzzer });
  }
  const createPosts = async (tokensOfAuthors: string[]) => {
    const ids: string[] = [];
    for (const token of tokensOfAuthors) {
      const created = await api.gql(CREATE_POST, { input: { title: 'Fuzz me', body: 'Body', packageName: 'fuzz-target' } }, { token });
      ids.push(created.data!.createPost.post.id);
    }
    return ids;
  };
  postIds = await createPosts([fuzzer, fuzzer, other]);
  deletablePostIds = await createPosts([fuzzer, fuzzer, fuzzer, other, other]);
  // A funded wallet and a sponsored package, so valid sponsorships, withdrawals and payouts can succeed.
  await creditPurchase(api.db, { id: 'evt_fuzz_funds', userId: 'fuzzer', amount: 10_000_000, created: new Date() });
  await sponsorPackage(api.db, { userId: 'fuzzer', packageName: 'fuzz-target', amount: 1_000_000 });
});
afterAll(() => api.close());

// ---- generators ---------------------------------------------------------------------------------------------

const nastyStrings = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }).map((s) => `$${s}`) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 2 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\n\t\r',
      '$where',
      '$gt',
      '$$NOW',
      '{"$gt": ""}',
      '{"$ne": null}',
      '__proto__',
      'constructor',
      'NaN',
      'Infinity',
      '-0',
      '1e309',
      'null',
      'undefined',
      "'; DROP TABLE posts; --",
      '<script>alert(1)</script>',
      '\u202eevil',
      '\uFEFF',
      '\uD800',
      '𝕏'.repeat(60),
      'a'.repeat(201),
    ),
  },
  // Huge strings, past every length limit (description: 50,000); bodies past MAX_BODY_BYTES get 413, fine too.
  { weight: 1, arbitrary: fc.constantFrom(256, 4_096, 20_001, 50_001, 60_000).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('é', '中', '🙂', '\u0007').chain((c) => fc.constantFrom(201, 10_001, 25_000).map((n) => c.repeat(n))) },
);

const nastyNumbers = fc.oneof(
  fc.integer(),
  fc.double(), // NaN and ±Infinity serialize as null in JSON
  fc.constantFrom(0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, -(2 ** 53), 1e308, -1e308, 0.5, Number.MIN_VALUE),
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyStrings },
  { weight: 2, arbitrary: nastyNumbers },
  fc.boolean(),
  fc.constant(null),
  fc.array(nastyStrings, { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('$gt', '$ne', '$where', 'a', '__proto__'), nastyStrings, { maxKeys: 2 }),
);

/** A value that is sometimes plausible (so some calls pass validation and reach the ops) and often anything. */
const field = (plausible: fc.Arbitrary<unknown>) => fc.oneof({ weight: 1, arbitrary: plausible }, { weight: 1, arbitrary: anyValue });

const packageNames = fc.constantFrom('fuzz-target', 'Fuzz_Target', 'FUZZ.target', 'other-pkg', 'missing-pkg');
const versions = fc.oneof(
  fc.tuple(fc.nat(30), fc.nat(30), fc.nat(30)).map(([a, b, c]) => `${a}.${b}.${c}`),
  fc.constantFrom('1.0.0', '2.0.0-rc.1', '1.0.0+build', 'v1.0.0', '01.0.0', `${'9'.repeat(17)}.0.0`),
);
const titles = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }));
const keywords = fc.array(fc.oneof(fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8})?$/), anyValue), { maxLength: 25 });
const amounts = fc.oneof(fc.integer({ min: -3, max: 50 }), fc.constantFrom(1_000_000, 1_000_001, 20_000_000));
const expectedVersions = fc.oneof(fc.integer({ min: 0, max: 6 }), nastyNumbers);
const postIdValues = (ids: string[] = postIds) => field(fc.oneof(fc.constantFrom(...ids), fc.constant(new ObjectId().toHexString())));

/** Input objects: all fields, some missing, or not an object at all. */
function inputOf(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record(fields) },
    { weight: 2, arbitrary: fc.record(fields, { requiredKeys: [] }) },
    { weight: 1, arbitrary: anyValue },
  );
}

interface FuzzCase {
  mutation: string;
  query: string;
  variables: Record<string, unknown>;
  token: string | undefined;
}

const SELECTION = '{ __typename ... on Error { code message } }';

function casesFor(mutation: string): fc.Arbitrary<FuzzCase> {
  const token = fc.constantFrom(...tokens);
  const withInput = (type: string, fields: Record<string, fc.Arbitrary<unknown>>) =>
    fc.record({ input: inputOf(fields), token }).map(({ input, token }) => ({
      mutation,
      query: `mutation Fuzz($input: ${type}!) { ${mutation}(input: $input) ${SELECTION} }`,
      variables: { input },
      token,
    }));
  switch (mutation) {
    case 'createPackage':
      return withInput('CreatePackageInput', { name: field(fc.oneof(packageNames, fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}[a-z0-9]$/))), summary: field(titles) });
    case 'publishRelease':
      return withInput('PublishReleaseInput', {
        packageName: field(packageNames),
        version: field(versions),
        sizeBytes: field(fc.nat()),
        notes: field(fc.option(titles)),
      });
    case 'updatePackage':
      return withInput('UpdatePackageInput', {
        name: field(packageNames),
        expectedVersion: field(expectedVersions),
        summary: field(fc.option(titles)),
        description: field(fc.option(titles)),
      });
    case 'addKeywords':
      return withInput('AddKeywordsInput', { packageName: field(packageNames), keywords: field(keywords) });
    case 'createPost':
      return withInput('CreatePostInput', { title: field(titles), body: field(titles), packageName: field(packageNames) });
    case 'updatePost':
      return withInput('UpdatePostInput', {
        postId: postIdValues(),
        expectedVersion: field(expectedVersions),
        title: field(fc.option(titles)),
        body: field(fc.option(titles)),
      });
    case 'deletePost':
      return withInput('DeletePostInput', { postId: postIdValues(deletablePostIds), expectedVersion: field(expectedVersions) });
    case 'sponsorPackage':
      return withInput('SponsorPackageInput', { packageName: field(packageNames), amount: field(amounts) });
    case 'withdrawSponsorship':
      return withInput('WithdrawSponsorshipInput', { packageName: field(packageNames), amount: field(amounts) });
    case 'requestPayout':
      return withInput('RequestPayoutInput', { amount: field(amounts) });
    case 'yankRelease':
      return withInput('YankReleaseInput', { packageName: field(packageNames), version: field(versions), reason: field(fc.option(titles)) });
    case 'unyankRelease':
      return withInput('UnyankReleaseInput', { packageName: field(packageNames), version: field(versions) });
    case 'createReleaseDraft':
      return withInput('CreateReleaseDraftInput', { packageName: field(packageNames), version: field(versions), notes: field(fc.option(titles)), sizeBytes: field(fc.option(fc.nat())) });
    case 'updateReleaseDraft':
      return withInput('UpdateReleaseDraftInput', {
        packageName: field(packageNames),
        // Fewer fields fuzzed here than elsewhere, so that some edits reach a draft; the same types are fuzzed above.
        version: fc.constantFrom(...DRAFTS_FOR.updateReleaseDraft!),
        notes: field(fc.option(titles)),
        sizeBytes: fc.option(fc.nat()),
        expectedRevision: fc.option(fc.integer({ min: 0, max: 4 })),
      });
    case 'createPublishToken':
      return withInput('CreatePublishTokenInput', {
        name: field(titles),
        packageNames: field(fc.array(packageNames, { maxLength: 3 })),
        expiresInDays: field(fc.option(fc.integer({ min: -2, max: 400 }))),
      });
    case 'revokePublishToken':
      return fc.record({ id: field(fc.oneof(fc.constantFrom(...publishTokenIds), fc.constant(new ObjectId().toHexString()))), token }).map(({ id, token }) => ({
        mutation,
        query: `mutation Fuzz($id: ID!) { ${mutation}(id: $id) ${SELECTION} }`,
        variables: { id },
        token,
      }));
    case 'recordDownload':
      return withInput('RecordDownloadInput', { packageName: field(packageNames), version: field(versions) });
    case 'publishReleaseDraft':
    case 'deleteReleaseDraft':
      return withInput(`${mutation[0]!.toUpperCase()}${mutation.slice(1)}Input`, { packageName: field(packageNames), version: field(fc.constantFrom(...DRAFTS_FOR[mutation]!)) });
    default:
      return fc.record({ postId: postIdValues(), token }).map(({ postId, token }) => ({
        mutation,
        query: `mutation Fuzz($postId: ID!) { ${mutation}(postId: $postId) ${SELECTION} }`,
        variables: { postId },
        token,
      }));
  }
}

// ---- running ------------------------------------------------------------------------------------------------

interface Outcome {
  fuzzCase: FuzzCase;
  status: number;
  accepted: boolean;
  /** Whether the call sent any write command (DB_TRACE). */
  wrote: boolean;
  summary: string;
}

async function send(fuzzCase: FuzzCase): Promise<Outcome> {
  const body = Buffer.from(JSON.stringify({ query: fuzzCase.query, variables: fuzzCase.variables }));
  const response = await yoga.fetch('http://127.0.0.1/api/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      // As an HTTP client would send it.
      'content-length': String(body.length),
      ...(fuzzCase.token ? { authorization: `Bearer ${fuzzCase.token}` } : {}),
    },
    body,
  });
  const text = await response.text();
  const result = JSON.parse(text) as {
    data?: Record<string, { __typename?: string } | null> | null;
    errors?: { message: string; extensions?: { code?: string } }[];
    extensions?: { dbOps?: { command: string }[] };
  };
  const typename = result.data?.[fuzzCase.mutation]?.__typename;
  const unexpected = result.errors?.find((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || e.message === 'Unexpected error.');
  expect(unexpected, `unexpected error for ${JSON.stringify(fuzzCase).slice(0, 500)}`).toBeUndefined();
  expect(response.status, `5xx for ${JSON.stringify(fuzzCase).slice(0, 500)}: ${text.slice(0, 300)}`).toBeLessThan(500);
  return {
    fuzzCase,
    status: response.status,
    accepted: typename?.endsWith('Success') === true,
    wrote: result.extensions?.dbOps?.some((op) => WRITE_COMMANDS.has(op.command)) ?? false,
    summary: typename ?? result.errors?.[0]?.extensions?.code ?? String(response.status),
  };
}

async function sendAll(cases: FuzzCase[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const index = next++;
        outcomes[index] = await send(cases[index]!);
      }
    }),
  );
  return outcomes;
}

/** A hash of every document of every collection, in _id order. */
async function databaseDigest(): Promise<string> {
  const hash = createHash('sha256');
  const names = (await api.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    hash.update(`\u0000${name}\u0000`);
    for (const doc of await api.db.collection(name).find({}).sort({ _id: 1 }).toArray()) hash.update(EJSON.stringify(doc, { relaxed: false }));
  }
  return hash.digest('hex');
}

it(`sends every mutation ${RUNS_PER_MUTATION} generated inputs: no 5xx, no unexpected error, refusals write nothing`, async () => {
  const cases = MUTATIONS.flatMap((mutation, i) => fc.sample(casesFor(mutation), { numRuns: RUNS_PER_MUTATION, seed: SEED + i }));
  const outcomes = await sendAll(cases);

  // Every mutation was both accepted and refused for some inputs, so the fuzz reached the ops and not only validation.
  const tally: Record<string, Record<string, number>> = {};
  for (const { fuzzCase, summary } of outcomes) {
    tally[fuzzCase.mutation] ??= {};
    tally[fuzzCase.mutation]![summary] = (tally[fuzzCase.mutation]![summary] ?? 0) + 1;
  }
  for (const mutation of MUTATIONS) {
    const counts = tally[mutation]!;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(RUNS_PER_MUTATION);
    expect(Object.keys(counts).some((k) => k.endsWith('Success')), `${mutation}: ${JSON.stringify(counts)}`).toBe(true);
    expect(Object.keys(counts).some((k) => !k.endsWith('Success')), `${mutation}: ${JSON.stringify(counts)}`).toBe(true);
  }

  // Refused calls that sent no write command changed nothing. Those that did (a guarded write that matched nothing)
  // are replayed until a round refuses all of them: state moved while the first round ran, so a refusal can turn into
  // a success once (an updatePost whose expectedVersion was reached later). That round must leave the database
  // exactly as it found it.
  expect(outcomes.filter((o) => !o.accepted && !o.wrote).length).toBeGreaterThan(RUNS_PER_MUTATION * 5);
  const refusedAfterWrite = outcomes.filter((o) => !o.accepted && o.wrote).map((o) => o.fuzzCase);
  expect(refusedAfterWrite.length).toBeGreaterThan(RUNS_PER_MUTATION / 10);
  // Up to REPLAYS_PER_MUTATION of each mutation's, in generation order, to keep the run short.
  const replayed = new Map<string, number>();
  let replay = refusedAfterWrite.filter((c) => {
    replayed.set(c.mutation, (replayed.get(c.mutation) ?? 0) + 1);
    return replayed.get(c.mutation)! <= REPLAYS_PER_MUTATION;
  });
  const firstReplay = replay.length;
  for (let round = 0; ; round++) {
    expect(round, 'refused calls kept succeeding on replay').toBeLessThan(12);
    const before = await databaseDigest();
    const results = await sendAll(replay);
    if (results.some((o) => o.accepted)) {
      replay = results.filter((o) => !o.accepted).map((o) => o.fuzzCase);
      continue;
    }
    expect(await databaseDigest()).toBe(before);
    expect(replay.length).toBeGreaterThan(firstReplay / 2);
    break;
  }
}, 600_000);

// ---- queries --------------------------------------------------------------------------------------------------

/** One generated call of a query field: every argument from the schema, each plausible or anything. */
function queryCasesFor(fieldName: string): fc.Arbitrary<FuzzCase> {
  const definition = schema.getQueryType()!.getFields()[fieldName]!;
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    name: packageNames,
    packageName: packageNames,
    keyword: fc.constantFrom('http', 'HTTP', 'a-b', 'none'),
    id: postIdValues(),
    first: fc.integer({ min: -5, max: 150 }),
    last: fc.integer({ min: -5, max: 150 }),
    after: fc.oneof(fc.constant(new ObjectId().toHexString()), fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 40 })),
    before: fc.oneof(fc.constant(new ObjectId().toHexString()), fc.base64String({ maxLength: 40 }), fc.string({ maxLength: 40 })),
  };
  const args = Object.fromEntries(definition.args.map((arg) => [arg.name, field(plausible[arg.name] ?? anyValue)]));
  const definitions = definition.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
  const call = definition.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  const leaf = /^(String|Int|Boolean|ID|DateTime)!?$/.test(String(definition.type));
  const query = `query Fuzz${definitions ? `(${definitions})` : ''} { ${fieldName}${call ? `(${call})` : ''} ${leaf ? '' : '{ __typename }'} }`;
  return fc
    .record({ variables: fc.record(args, { requiredKeys: [] }), token: fc.constantFrom(...tokens) })
    .map(({ variables, token }) => ({ mutation: fieldName, query, variables, token }));
}

it(`sends every query field ${RUNS_PER_MUTATION} generated argument sets: no 5xx, no unexpected error, only typed refusals`, async () => {
  const queries = Object.keys(schema.getQueryType()!.getFields());
  const cases = queries.flatMap((name, i) => fc.sample(queryCasesFor(name), { numRuns: RUNS_PER_MUTATION, seed: SEED + 100 + i }));
  const outcomes = await sendAll(cases);
  const byField = new Map<string, Set<string>>();
  for (const { fuzzCase, summary } of outcomes) byField.set(fuzzCase.mutation, (byField.get(fuzzCase.mutation) ?? new Set()).add(summary));
  for (const name of queries) expect(byField.get(name)?.size, name).toBeGreaterThan(0);
  // Fields with arguments were refused for some inputs, with BAD_USER_INPUT (or 413 for a body over the limit), and
  // answered for others; nothing else: no uncoded error a client could not act on.
  for (const name of queries.filter((q) => schema.getQueryType()!.getFields()[q]!.args.length > 0)) {
    const summaries = [...byField.get(name)!];
    expect(summaries.some((s) => s === 'BAD_USER_INPUT'), `${name}: ${summaries.join(', ')}`).toBe(true);
    expect(summaries.some((s) => s !== 'BAD_USER_INPUT'), `${name}: ${summaries.join(', ')}`).toBe(true);
    expect(summaries.filter((s) => /^\d{3}$/.test(s) && s !== '200'), `${name}: ${summaries.join(', ')}`).toEqual([]);
  }
}, 600_000);
