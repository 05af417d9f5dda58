// Package scenarios through the API: many versions published at once in random order, one version published many
// times at once, one name created many times at once, and many editors holding the same expectedVersion.
import semver from 'semver';
import type { PackageDoc } from '../../src/packages/package.ops.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE, UPDATE_PACKAGE } from '../../test/helpers/documents.js';
import { type BenchEnv, Checks, gql, graphqlLoad, type Scenario, signTokens, variantResult } from './common.js';

const MAINTAINER = 'bench-maintainer';

async function maintainerToken(env: BenchEnv): Promise<string> {
  return (await signTokens(env, [MAINTAINER]))[0]!;
}

async function createPackage(env: BenchEnv, name: string): Promise<void> {
  const created = (await gql(env, CREATE_PACKAGE, { input: { name, summary: 'bench' } }, await maintainerToken(env))).createPackage;
  if (created.__typename !== 'CreatePackageSuccess') throw new Error(`could not create ${name}: ${JSON.stringify(created)}`);
}

async function readPackage(env: BenchEnv, name: string): Promise<PackageDoc> {
  const stored = await env.db.collection<PackageDoc>('packages').findOne({ _id: name });
  if (!stored) throw new Error(`package ${name} is missing`);
  return stored;
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** n distinct versions, a third of them prereleases, so semver order differs from string and publish order. */
export function distinctVersions(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i % 3 === 2 ? `${i % 7}.${i}.0-rc.${i}` : `${i % 7}.${i}.${i % 4}`));
}

export const publishDistinctVersions: Scenario = {
  name: 'publish-distinct-versions',
  description: 'publishRelease of N distinct versions in random order from all instances: each stored once, in semver order, latestRelease the highest stable one',
  async run(env) {
    const name = 'bench-releases';
    await createPackage(env, name);
    const token = await maintainerToken(env);
    const versions = distinctVersions(env.counts.releases);
    const order = shuffle(versions);
    env.log?.(`${this.name} / graphql: ${versions.length} versions`);
    const load = await graphqlLoad(env, {
      document: () => PUBLISH_RELEASE,
      amount: order.length,
      variables: (i) => ({ input: { packageName: name, version: order[i], sizeBytes: 1024 } }),
      token: () => token,
    });
    const stored = await readPackage(env, name);
    const storedVersions = stored.releases.map((r) => r.version);
    const highestFirst = semver.rsort([...versions]);
    const latest = (await gql(env, `query ($name: String!) { package(name: $name) { latestRelease { version } } }`, { name })).package.latestRelease?.version;
    const checks = new Checks()
      .equal('releaseCount vs stored releases', stored.releaseCount, stored.releases.length)
      .equal('releases in semver order, highest first', storedVersions, highestFirst)
      .equal('latestRelease', latest, highestFirst.find((v) => !semver.prerelease(v)));
    return [
      variantResult(this.name, 'graphql', env.connections, load, ['ok'], {
        expected: load.outcomes.ok ?? 0,
        observed: versions.filter((v) => storedVersions.includes(v)).length,
        duplicates: storedVersions.length - new Set(storedVersions).size,
      }, checks),
    ];
  },
};

export const publishSameVersion: Scenario = {
  name: 'publish-same-version',
  description: 'publishRelease of one version N times at once: one success, N-1 CONFLICT, stored once',
  async run(env) {
    const name = 'bench-one-version';
    await createPackage(env, name);
    const token = await maintainerToken(env);
    const n = env.counts.samePublishes;
    env.log?.(`${this.name} / graphql: ${n} publishes of 1.0.0`);
    const load = await graphqlLoad(env, {
      document: () => PUBLISH_RELEASE,
      amount: n,
      variables: () => ({ input: { packageName: name, version: '1.0.0', sizeBytes: 1024 } }),
      token: () => token,
    });
    const stored = await readPackage(env, name);
    const copies = stored.releases.filter((r) => r.version === '1.0.0').length;
    const checks = new Checks()
      .equal('successes', load.outcomes.ok ?? 0, 1)
      .equal('CONFLICT results', load.outcomes.CONFLICT ?? 0, n - 1)
      .equal('releaseCount vs stored releases', stored.releaseCount, stored.releases.length);
    return [
      variantResult(this.name, 'graphql', env.connections, load, ['ok', 'CONFLICT'], {
        expected: 1,
        observed: Math.min(copies, 1),
        duplicates: Math.max(0, copies - 1),
      }, checks),
    ];
  },
};

export const createSameName: Scenario = {
  name: 'create-same-name',
  description: 'createPackage of one name (in several spellings) by N users at once: one package, one success, N-1 ALREADY_EXISTS',
  async run(env) {
    const n = env.counts.creators;
    const spellings = ['Bench.Hot.Name', 'bench-hot-name', 'BENCH_HOT_NAME', 'bench__hot__name', 'Bench-.-Hot-Name'];
    const tokens = await signTokens(env, Array.from({ length: n }, (_, i) => `creator-${i}`));
    env.log?.(`${this.name} / graphql: ${n} creators`);
    const load = await graphqlLoad(env, {
      document: () => CREATE_PACKAGE,
      amount: n,
      variables: (i) => ({ input: { name: spellings[i % spellings.length], summary: `by creator ${i}` } }),
      token: (i) => tokens[i]!,
    });
    const count = await env.db.collection<PackageDoc>('packages').countDocuments({ _id: 'bench-hot-name' });
    const checks = new Checks().equal('successes', load.outcomes.ok ?? 0, 1).equal('ALREADY_EXISTS results', load.outcomes.ALREADY_EXISTS ?? 0, n - 1);
    return [
      variantResult(this.name, 'graphql', env.connections, load, ['ok', 'ALREADY_EXISTS'], {
        expected: 1,
        observed: Math.min(count, 1),
        duplicates: Math.max(0, count - 1),
      }, checks),
    ];
  },
};

export const updateSameVersion: Scenario = {
  name: 'update-same-version',
  description: 'updatePackage by N editors holding the same expectedVersion: one success, N-1 CONFLICT with currentVersion 2',
  async run(env) {
    const name = 'bench-contested';
    await createPackage(env, name);
    const token = await maintainerToken(env);
    const n = env.counts.editors;
    env.log?.(`${this.name} / graphql: ${n} editors`);
    const load = await graphqlLoad(env, {
      document: () => UPDATE_PACKAGE,
      amount: n,
      variables: (i) => ({ input: { name, expectedVersion: 1, summary: `edit ${i}` } }),
      token: () => token,
    });
    const stored = await readPackage(env, name);
    const checks = new Checks()
      .equal('successes', load.outcomes.ok ?? 0, 1)
      .equal('CONFLICT results with currentVersion 2', load.outcomes['CONFLICT@v2'] ?? 0, n - 1)
      .equal('stored version', stored.version, 2);
    return [
      // One edit should be applied: version 1 -> 2, with one editor's summary.
      variantResult(this.name, 'graphql', env.connections, load, ['ok', 'CONFLICT@v2'], {
        expected: 1,
        observed: stored.version - 1,
        duplicates: 0,
      }, checks),
    ];
  },
};
