// The effect mechanism at every point a function can stop: createPost and deletePost are cut after each of their
// writes (the database is real; only the caller stops, as a killed process would), then finished by a retry of the
// same request, by a repair run, or by both at once; a stale party that applies a step after it was over is undone.
// Each case ends with verify's recount: 0 differences, nothing pending, no step mark left.
import { MongoClient, ObjectId, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIndexes } from '../../src/db/indexes.js';
import { completeEffect, type EffectRecord } from '../../src/effects/effect.ops.js';
import { repairRegistry } from '../../src/effects/repair.js';
import { insertPackage } from '../../src/packages/package.ops.js';
import { createPost, deletePostIfVersion } from '../../src/posts/post.ops.js';
import { verifyRegistry } from '../../src/stats/verify.ops.js';
import { getTestMongoUri, uniqueDbName } from '../helpers/db.js';
import { Stopped, stoppingAfter } from '../helpers/stopping-db.js';

let client: MongoClient;
let db: Db;
let seq = 0;

beforeAll(async () => {
  client = new MongoClient(getTestMongoUri());
  db = client.db(uniqueDbName('effect-steps'));
  await ensureIndexes(db);
});
afterAll(() => client.close());

async function freshPackage(): Promise<string> {
  const name = `pkg-${++seq}`;
  await insertPackage(db, { name, displayName: name, summary: 's', maintainerId: 'author' });
  return name;
}

const post = (packageName: string) => ({ title: `t${++seq}`, body: 'b', authorId: 'author', packageName });

async function expectExact(packageName: string, posts: number): Promise<void> {
  const pkg = await db.collection('packages').findOne({ _id: packageName as never });
  expect(pkg!.postCount).toBe(posts);
  expect(pkg!.effectMarks ?? []).toEqual([]);
  expect(await db.collection('posts').countDocuments({ packageName, deletedAt: { $exists: false } })).toBe(posts);
  expect(await db.collection('posts').countDocuments({ packageName, 'effects.0': { $exists: true } })).toBe(0);
  const { differences } = await verifyRegistry(db);
  expect(differences.filter((d) => d.where.endsWith(` ${packageName}`))).toEqual([]);
}

// createPost writes: 1 insert post, 2 apply +1 on the package, 3 acknowledge in the post, 4 clean the mark, 5 end.
const CREATE_WRITES = 5;

describe('createPost stopped after each write', () => {
  for (let stopAfter = 1; stopAfter < CREATE_WRITES; stopAfter++) {
    it(`after write ${stopAfter}: a repair run finishes it, counted once`, async () => {
      const name = await freshPackage();
      await expect(createPost(stoppingAfter(db, stopAfter), post(name))).rejects.toThrow(Stopped);
      const before = await verifyRegistry(db);
      // Drift exists before repair exactly when the count has not moved yet, or a mark is left.
      expect(before.pendingEffects + before.marks).toBeGreaterThan(0);
      await repairRegistry(db, 0);
      await expectExact(name, 1);
    });

    it(`after write ${stopAfter}: the retry of the keyed request finishes it, one post, counted once`, async () => {
      const name = await freshPackage();
      const key = `key-${seq}`;
      const input = post(name);
      await expect(createPost(stoppingAfter(db, stopAfter), input, key)).rejects.toThrow(Stopped);
      const retried = await createPost(db, input, key);
      expect(retried.ok).toBe(true);
      await expectExact(name, 1);
    });

    it(`after write ${stopAfter}: 8 retries and 3 repair runs at once still count it once`, async () => {
      const name = await freshPackage();
      const key = `key-${seq}`;
      const input = post(name);
      await expect(createPost(stoppingAfter(db, stopAfter), input, key)).rejects.toThrow(Stopped);
      const results = await Promise.all([
        ...Array.from({ length: 8 }, () => createPost(db, input, key)),
        ...Array.from({ length: 3 }, () => repairRegistry(db, 0)),
      ]);
      expect(results.slice(0, 8).every((r) => 'ok' in r && r.ok)).toBe(true);
      await expectExact(name, 1);
    });
  }

  it('naive: 8 parties finishing the same cut-short effect with an unguarded $inc count it 8 times (the test can fail)', async () => {
    const name = await freshPackage();
    await expect(createPost(stoppingAfter(db, 1), post(name))).rejects.toThrow(Stopped);
    const pending = await db.collection('posts').findOne({ packageName: name });
    // What "retry the remaining writes" does without a guard: each finisher adds the count again.
    await Promise.all(Array.from({ length: 8 }, () => db.collection('packages').updateOne({ _id: name as never }, { $inc: { postCount: 1 } })));
    expect(pending!.effects).toHaveLength(1);
    expect((await db.collection('packages').findOne({ _id: name as never }))!.postCount).toBe(8);
    const { differences } = await verifyRegistry(db);
    expect(differences.find((d) => d.where === `package ${name}`)).toMatchObject({ kept: 8, recounted: 1 });
    await db.collection('posts').deleteOne({ _id: pending!._id });
    await db.collection('packages').updateOne({ _id: name as never }, { $set: { postCount: 0 } });
  });

  it('a post about a missing package is rolled back (NOT_FOUND), whether the request or a repair finishes it', async () => {
    const refused = await createPost(db, post('no-such-package'));
    expect(refused.ok).toBe(false);
    await expect(createPost(stoppingAfter(db, 1), post('no-such-package'))).rejects.toThrow(Stopped);
    expect(await db.collection('posts').countDocuments({ packageName: 'no-such-package' })).toBe(1);
    await repairRegistry(db, 0);
    expect(await db.collection('posts').countDocuments({ packageName: 'no-such-package' })).toBe(0);
  });
});

// deletePost writes: 1 tombstone with the effect, 2 apply -1, 3 acknowledge, 4 clean the mark, 5 end (purge time set).
describe('deletePost stopped after each write', () => {
  for (let stopAfter = 1; stopAfter < 5; stopAfter++) {
    it(`after write ${stopAfter}: repair, or the keyed retry, uncounts it once`, async () => {
      const name = await freshPackage();
      const created = await createPost(db, post(name));
      const other = await createPost(db, post(name));
      if (!created.ok || !other.ok) throw new Error('setup failed');
      const ids = [created.value._id, other.value._id];
      await expect(deletePostIfVersion(stoppingAfter(db, stopAfter), { postId: ids[0]!, viewerId: 'author', expectedVersion: 1 })).rejects.toThrow(Stopped);
      await repairRegistry(db, 0);
      await expectExact(name, 1);
      const key = `del-${seq}`;
      await expect(deletePostIfVersion(stoppingAfter(db, stopAfter), { postId: ids[1]!, viewerId: 'author', expectedVersion: 1 }, key)).rejects.toThrow(Stopped);
      const retried = await deletePostIfVersion(db, { postId: ids[1]!, viewerId: 'author', expectedVersion: 1 }, key);
      expect(retried.ok).toBe(true);
      await expectExact(name, 0);
      expect(await db.collection('posts').findOne({ _id: ids[1] })).toMatchObject({ deletedBy: key, purgeAt: expect.any(Date) });
    });
  }
});

describe('a stale party applying a step after the effect is over', () => {
  async function finishedPostWithStaleRecord(): Promise<{ name: string; id: ObjectId; stale: EffectRecord }> {
    const name = await freshPackage();
    const id = new ObjectId();
    // What a slow party read before the effect ended: the record with its step still pending.
    const stale: EffectRecord = {
      id: `stale-${seq}`,
      kind: 'createPost',
      at: new Date(),
      steps: [{ name: 'postCount', collection: 'packages', target: name, inc: { postCount: 1 } }],
      pending: ['postCount'],
      done: [],
      abort: { delete: true },
    };
    await db.collection('posts').insertOne({ _id: id, ...post(name), likedBy: [], likeCount: 0, effects: [stale] });
    await completeEffect(db, { collection: 'posts', id, effectId: stale.id });
    await expectExact(name, 1);
    return { name, id, stale };
  }

  it('takes its own application back at once', async () => {
    const { name, id, stale } = await finishedPostWithStaleRecord();
    expect(await completeEffect(db, { collection: 'posts', id, effectId: stale.id }, stale)).toBe('gone');
    await expectExact(name, 1);
  });

  it('if it stops before taking it back, the count is one too high until repair undoes it', async () => {
    const { name, id, stale } = await finishedPostWithStaleRecord();
    await expect(completeEffect(stoppingAfter(db, 1), { collection: 'posts', id, effectId: stale.id }, stale)).rejects.toThrow(Stopped);
    const drifted = await verifyRegistry(db);
    expect(drifted.differences.find((d) => d.where === `package ${name}`)).toMatchObject({ kept: 2, recounted: 1 });
    await repairRegistry(db, 0);
    await expectExact(name, 1);
  });
});
