// Index use as explain reports it: IXSCAN for equality, range, prefix, $in, multikey, partial, sparse and sort; COLLSCAN otherwise; hints honoured or refused.
import { type Collection, type Document } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { planIndexNames, planStages } from '../helpers/explain-plan.js';
import { serverError, useTestDb } from '../helpers/db.js';

const { db } = useTestDb('planner');
let c: Collection<Document>;
const N = 200;

beforeAll(async () => {
  c = db.collection('items');
  await c.insertMany(
    Array.from({ length: N }, (_, i) => ({
      _id: i as never,
      a: i % 20,
      b: i,
      name: `item-${String(i).padStart(3, '0')}`,
      tags: [`t${i % 7}`, `u${i % 3}`],
      ...(i % 10 === 0 ? { s: i } : {}),
      p: i,
    })),
  );
  await c.createIndex({ a: 1 });
  await c.createIndex({ b: -1 });
  await c.createIndex({ name: 1 });
  await c.createIndex({ tags: 1 });
  await c.createIndex({ s: 1 }, { sparse: true });
  await c.createIndex({ p: 1 }, { partialFilterExpression: { p: { $gte: 150 } } });
});

async function explainFind(filter: Document, options: { sort?: Document; limit?: number; hint?: Document | string } = {}): Promise<Document> {
  let cursor = c.find(filter);
  if (options.sort) cursor = cursor.sort(options.sort);
  if (options.limit) cursor = cursor.limit(options.limit);
  if (options.hint) cursor = cursor.hint(options.hint);
  return cursor.explain('executionStats');
}

const usesIndex = (e: Document, name: string): boolean => planStages(e.queryPlanner.winningPlan).some((s) => s.includes('IXSCAN')) && planIndexNames(e.queryPlanner.winningPlan).includes(name);
const isCollScan = (e: Document): boolean => planStages(e.queryPlanner.winningPlan).includes('COLLSCAN');

describe('query planner', () => {
  it('equality on an indexed field is an index scan that examines only the matching documents', async () => {
    const e = await explainFind({ a: 5 });
    expect(usesIndex(e, 'a_1')).toBe(true);
    expect(e.executionStats.nReturned).toBe(10);
    expect(e.executionStats.totalDocsExamined).toBe(10);
    expect(e.executionStats.totalKeysExamined).toBeGreaterThanOrEqual(10);
    expect(e.executionStats.totalKeysExamined).toBeLessThanOrEqual(11);
  });

  it('a field without an index is a collection scan over every document', async () => {
    const e = await explainFind({ missingIndex: 5 });
    expect(isCollScan(e)).toBe(true);
    expect(e.executionStats.totalDocsExamined).toBe(N);
    expect(e.executionStats.totalKeysExamined).toBe(0);
  });

  it('ranges, $in and an anchored regex prefix use the index, with the right results', async () => {
    const range = await explainFind({ b: { $gte: 10, $lt: 20 } });
    expect(usesIndex(range, 'b_-1')).toBe(true);
    expect(range.executionStats.nReturned).toBe(10);
    expect(range.executionStats.totalDocsExamined).toBe(10);
    expect(await c.countDocuments({ b: { $gte: 10, $lt: 20 } })).toBe(10);

    const inList = await explainFind({ a: { $in: [1, 2] } });
    expect(usesIndex(inList, 'a_1')).toBe(true);
    expect(inList.executionStats.totalDocsExamined).toBe(20);

    const prefix = await explainFind({ name: /^item-01/ });
    expect(usesIndex(prefix, 'name_1')).toBe(true);
    expect(prefix.executionStats.nReturned).toBe(10);
    expect(prefix.executionStats.totalDocsExamined).toBe(10);
  });

  it('a multikey index finds documents by any array element', async () => {
    const e = await explainFind({ tags: 't3' });
    expect(usesIndex(e, 'tags_1')).toBe(true);
    expect(e.executionStats.nReturned).toBe(Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 === 3).length);
    expect(e.executionStats.totalDocsExamined).toBe(e.executionStats.nReturned);
  });

  it('a sparse index serves equality but not a null query; a partial index only queries inside its filter', async () => {
    expect(usesIndex(await explainFind({ s: 30 }), 's_1')).toBe(true);
    const nulls = await explainFind({ s: null });
    expect(planIndexNames(nulls.queryPlanner.winningPlan)).not.toContain('s_1');
    expect(nulls.executionStats.nReturned).toBe(N - N / 10);

    expect(usesIndex(await explainFind({ p: 170 }), 'p_1')).toBe(true);
    const outside = await explainFind({ p: 20 });
    expect(planIndexNames(outside.queryPlanner.winningPlan)).not.toContain('p_1');
    expect(outside.executionStats.nReturned).toBe(1);
  });

  it('a sort on an indexed field with a limit reads only that many documents, in order, without a SORT stage', async () => {
    const e = await explainFind({}, { sort: { b: 1 }, limit: 5 });
    expect(usesIndex(e, 'b_-1')).toBe(true);
    expect(planStages(e.queryPlanner.winningPlan)).not.toContain('SORT');
    expect(e.executionStats.totalDocsExamined).toBe(5);
    expect((await c.find({}, { projection: { b: 1 } }).sort({ b: -1 }).limit(3).toArray()).map((d) => d.b)).toEqual([199, 198, 197]);
  });

  it('honours a hint, and a $natural hint scans the collection', async () => {
    const hinted = await explainFind({ a: 5 }, { hint: { b: -1 } });
    expect(usesIndex(hinted, 'b_-1')).toBe(true);
    expect(hinted.executionStats.nReturned).toBe(10);
    expect(await c.countDocuments({ a: 5 }, { hint: 'b_-1' })).toBe(10);
    expect(isCollScan(await explainFind({ a: 5 }, { hint: { $natural: 1 } }))).toBe(true);
  });

  it('refuses a hint naming an index that does not exist (code 2)', async () => {
    const err = await serverError(c.find({ a: 5 }).hint('nope_1').toArray());
    expect(err.code).toBe(2);
    expect(err.message).toMatch(/hint provided does not correspond to an existing index/);
    expect((await serverError(c.find({}).hint({ zzz: 1 }).toArray())).code).toBe(2);
  });

  it('keeps indexes in step with updates and deletes', async () => {
    const t = db.collection('moving');
    await t.createIndex({ k: 1 });
    await t.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i as never, k: i })));
    await t.updateMany({ k: { $lt: 10 } }, { $inc: { k: 100 } });
    await t.deleteMany({ k: { $gte: 45, $lt: 50 } });
    expect((await t.find({ k: { $gte: 100 } }).sort({ k: 1 }).toArray()).map((d) => d._id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await t.countDocuments({ k: { $lt: 10 } })).toBe(0);
    expect(await t.countDocuments({ k: { $gte: 45, $lt: 50 } })).toBe(0);
    const e = await t.find({ k: 105 }).explain('executionStats');
    expect(e.executionStats.nReturned).toBe(1);
    expect(e.executionStats.totalDocsExamined).toBe(1);
  });
});

describe('query planner edge cases', () => {
  it('$in with an empty list matches nothing, with or without an index', async () => {
    expect(await c.countDocuments({ a: { $in: [] } })).toBe(0);
    expect(await c.countDocuments({ zz: { $in: [] } })).toBe(0);
  });
});
