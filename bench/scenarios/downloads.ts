// Download scenarios: recordDownload bursts on one release from every instance (download-burst), next to a naive
// read-add-write bucket through the driver, which loses counts.
import { recordDownload } from '../../src/downloads/download.ops.js';
import { CREATE_PACKAGE, PUBLISH_RELEASE } from '../../test/helpers/documents.js';
import { naiveRecordDownload } from '../../test/concurrency/naive-registry-ops.js';
import { type BenchEnv, Checks, driverLoad, gql, graphqlLoad, type Scenario, signTokens, type VariantResult, variantResult, wantsVariant } from './common.js';

export const BENCH_RECORD_DOWNLOAD = `mutation ($input: RecordDownloadInput!) { recordDownload(input: $input) { __typename ... on Error { code message } ... on RecordDownloadSuccess { release { version downloads } } } }`;

async function releaseFor(env: BenchEnv, name: string): Promise<void> {
  const [token] = await signTokens(env, ['bench-downloads']);
  await gql(env, CREATE_PACKAGE, { input: { name, summary: 'downloads for the bench' } }, token);
  await gql(env, PUBLISH_RELEASE, { input: { packageName: name, version: '1.0.0', sizeBytes: 1 } }, token);
}

export const downloadBurst: Scenario = {
  name: 'download-burst',
  description: 'recordDownload N times on one release from every instance: release counter = package total = day bucket = acknowledged downloads',
  async run(env) {
    const results: VariantResult[] = [];
    const n = env.counts.downloads;
    if (wantsVariant(env, 'graphql')) {
      const name = `bench-downloads-${Date.now().toString(36)}`;
      await releaseFor(env, name);
      env.log?.(`${this.name} / graphql: ${n} downloads`);
      const load = await graphqlLoad(env, { document: () => BENCH_RECORD_DOWNLOAD, amount: n, variables: () => ({ input: { packageName: name, version: '1.0.0' } }) });
      const stored = await env.db.collection('packages').findOne({ _id: name as never });
      const releaseCount = (stored?.releases?.[0]?.downloads as number | undefined) ?? 0;
      const buckets = await env.db.collection('downloadBuckets').find({ package: name }).toArray();
      const bucketTotal = buckets.reduce((sum, b) => sum + (b.count as number), 0);
      const checks = new Checks().equal('package total vs release counter', stored?.downloadCount ?? 0, releaseCount).equal('day buckets vs release counter', bucketTotal, releaseCount);
      results.push(variantResult(this.name, 'graphql', env.connections, load, ['ok'], { expected: load.outcomes.ok ?? 0, observed: releaseCount, duplicates: 0 }, checks));
    }
    if (wantsVariant(env, 'driver')) {
      const name = `bench-downloads-driver-${Date.now().toString(36)}`;
      await releaseFor(env, name);
      env.log?.(`${this.name} / driver: ${n} downloads`);
      const load = await driverLoad(env, n, async () => {
        const result = await recordDownload(env.db, { name, version: '1.0.0' });
        return { outcome: result.ok ? 'ok' : `error:${result.error.code}` };
      });
      const stored = await env.db.collection('packages').findOne({ _id: name as never });
      results.push(variantResult(this.name, 'driver', env.connections, load, ['ok'], { expected: load.outcomes.ok ?? 0, observed: stored?.downloadCount ?? 0, duplicates: 0 }, new Checks()));
    }
    if (wantsVariant(env, 'rmw')) {
      const bucket = `bench-naive|${Date.now().toString(36)}`;
      env.log?.(`${this.name} / rmw: ${n} downloads`);
      const load = await driverLoad(env, n, async () => {
        await naiveRecordDownload(env.db, bucket);
        return { outcome: 'ok' };
      });
      const stored = await env.db.collection('naiveDownloadBuckets').findOne({ _id: bucket as never });
      results.push(variantResult(this.name, 'rmw', env.connections, load, ['ok'], { expected: load.outcomes.ok ?? 0, observed: (stored?.count as number | undefined) ?? 0, duplicates: 0 }, new Checks()));
    }
    return results;
  },
};
