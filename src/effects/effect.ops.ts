// Multi-document effects (docs/effects.md): the first write records the intent in its own document; every later step is
// one atomic write on another document, guarded by the effect's id, so any party (the request, its retry, a repair run)
// can finish it, as often and as concurrently as it likes, and it is applied exactly once.
import { randomBytes } from 'node:crypto';
import type { Db, Document } from 'mongodb';

/** One later step: add `inc` to `target` in `collection`. Its undo is the same inc negated. */
export interface EffectStep {
  name: string;
  collection: string;
  target: string;
  inc: Record<string, number>;
}

/** What the first write can be rolled back to when a step's target does not exist (the effect never happened). */
export type EffectAbort = { delete: true } | { inc: Record<string, number> };

/** Recorded in the primary document's `effects` array by the first write; removed when the effect is over. */
export interface EffectRecord {
  id: string;
  kind: string;
  at: Date;
  steps: EffectStep[];
  /** Names of steps not yet acknowledged in this record. */
  pending: string[];
  /** Acknowledged steps with the token of the one application the target kept. */
  done: { step: string; token: string }[];
  abort: EffectAbort;
  /** Fields the primary gets when the effect is over (e.g. a tombstone's purge time). */
  doneSet?: Record<string, unknown>;
}

/**
 * Left on a target by a step's application until the primary acknowledges it: proves "applied" to every other party
 * and names the one application that counts (`token`); any other application is a stale duplicate and is undone.
 */
export interface EffectMark {
  key: string;
  token: string;
  inc: Record<string, number>;
  primary: { collection: string; id: unknown };
  at: Date;
}

export interface EffectRef {
  collection: string;
  id: unknown;
  effectId: string;
}

export type EffectOutcome = 'done' | 'aborted' | 'gone';

export function newEffectId(): string {
  return randomBytes(16).toString('base64url');
}

/** The record a first write stores; `pending` starts as every step. */
export function effectRecord(input: Omit<EffectRecord, 'pending' | 'done' | 'at'> & { at?: Date }): EffectRecord {
  return { ...input, at: input.at ?? new Date(), pending: input.steps.map((s) => s.name), done: [] };
}

function markKey(effectId: string, step: string): string {
  return `${effectId}/${step}`;
}

function negate(inc: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(inc).map(([field, by]) => [field, -by]));
}

/** Reads one effect record of a primary document (null when the effect is over or the document gone). */
export async function findEffect(db: Db, ref: EffectRef): Promise<EffectRecord | null> {
  const doc = await db
    .collection(ref.collection)
    .findOne({ _id: ref.id as never }, { projection: { effects: { $elemMatch: { id: ref.effectId } } } });
  return (doc?.effects as EffectRecord[] | undefined)?.[0] ?? null;
}

/**
 * Runs every pending step of the effect and ends it. Safe to call any number of times, concurrently, from any party:
 * each step is applied once however many run it, and a party that finds it already over changes nothing.
 */
export async function completeEffect(db: Db, ref: EffectRef, known?: EffectRecord): Promise<EffectOutcome> {
  const record = known ?? (await findEffect(db, ref));
  if (!record) return 'gone';
  for (const step of record.steps) {
    if (!record.pending.includes(step.name)) {
      const done = record.done.find((d) => d.step === step.name);
      if (done) await cleanupMark(db, step, markKey(ref.effectId, step.name), done.token);
      continue;
    }
    const outcome = await runStep(db, ref, record, step);
    if (outcome === 'aborted' || outcome === 'gone') return outcome;
  }
  await finishEffect(db, ref, record);
  return 'done';
}

async function runStep(db: Db, ref: EffectRef, record: EffectRecord, step: EffectStep): Promise<'ok' | 'aborted' | 'gone'> {
  const key = markKey(ref.effectId, step.name);
  const token = randomBytes(12).toString('base64url');
  const targets = db.collection(step.collection);
  const mark: EffectMark = { key, token, inc: step.inc, primary: { collection: ref.collection, id: ref.id }, at: new Date() };
  // Apply: only while the target holds no mark of this step, so concurrent parties apply it once between them.
  const applied = await targets.updateOne({ _id: step.target as never, 'effectMarks.key': { $ne: key } }, {
    $inc: step.inc,
    $push: { effectMarks: mark },
  } as Document);
  let keptToken = token;
  if (applied.modifiedCount === 0) {
    // Read after the refused write: whose application the target kept, or that the target does not exist.
    const target = await targets.findOne({ _id: step.target as never }, { projection: { effectMarks: { $elemMatch: { key } } } });
    if (!target) return abortEffect(db, ref, record);
    const existing = (target.effectMarks as EffectMark[] | undefined)?.[0];
    // No mark and not applied by us: the step was acknowledged and cleaned up by another party meanwhile.
    if (!existing) return 'ok';
    keptToken = existing.token;
  }
  // Acknowledge in the primary: the step is done, and this token is the application that counts.
  const acked = await db.collection(ref.collection).updateOne(
    { _id: ref.id as never, effects: { $elemMatch: { id: ref.effectId, pending: step.name } } },
    { $pull: { 'effects.$[effect].pending': step.name }, $push: { 'effects.$[effect].done': { step: step.name, token: keptToken } } } as Document,
    { arrayFilters: [{ 'effect.id': ref.effectId }] },
  );
  let countedToken = keptToken;
  if (acked.modifiedCount === 0) {
    // Another party acknowledged it (or the effect is over): its record says which application counts.
    const current = await findEffect(db, ref);
    countedToken = current?.done.find((d) => d.step === step.name)?.token ?? '';
    if (applied.modifiedCount === 1 && countedToken !== token) {
      // This party applied it after the step was already over: a stale duplicate, taken back at once.
      await undoMark(db, step.collection, step.target, { ...mark, token });
      return current ? 'ok' : 'gone';
    }
    if (!current) return 'gone';
  }
  await cleanupMark(db, step, key, countedToken);
  return 'ok';
}

/** atomic: removes an acknowledged step's mark from its target; the step stays applied. */
async function cleanupMark(db: Db, step: EffectStep, key: string, token: string): Promise<void> {
  await db.collection(step.collection).updateOne({ _id: step.target as never }, { $pull: { effectMarks: { key, token } } } as Document);
}

/** atomic: takes back one application whose mark is still there (a duplicate no primary counts), and its mark. */
export async function undoMark(db: Db, collection: string, target: unknown, mark: Pick<EffectMark, 'key' | 'token' | 'inc'>): Promise<boolean> {
  const { modifiedCount } = await db.collection(collection).updateOne(
    { _id: target as never, effectMarks: { $elemMatch: { key: mark.key, token: mark.token } } },
    { $inc: negate(mark.inc), $pull: { effectMarks: { key: mark.key, token: mark.token } } } as Document,
  );
  return modifiedCount === 1;
}

/** atomic: ends the effect once nothing is pending: removes its record and sets doneSet. */
async function finishEffect(db: Db, ref: EffectRef, record: EffectRecord): Promise<void> {
  await db.collection(ref.collection).updateOne(
    { _id: ref.id as never, effects: { $elemMatch: { id: ref.effectId, pending: { $size: 0 } } } },
    { $pull: { effects: { id: ref.effectId } }, ...(record.doneSet ? { $set: record.doneSet } : {}) } as Document,
  );
}

/**
 * atomic: the first step's target does not exist, so the effect never happened: the first write is rolled back
 * (the primary deleted, or its own change negated) together with its record, and only while the record is there.
 */
async function abortEffect(db: Db, ref: EffectRef, record: EffectRecord): Promise<'aborted' | 'gone'> {
  if (record.done.length > 0) throw new Error(`effect ${ref.effectId}: a later step's target is missing; left for repair`);
  const filter = { _id: ref.id as never, 'effects.id': ref.effectId };
  const primaries = db.collection(ref.collection);
  let changed: number;
  if ('delete' in record.abort) {
    changed = (await primaries.deleteOne(filter)).deletedCount;
  } else {
    const inc = record.abort.inc;
    const update = { ...(Object.keys(inc).length > 0 ? { $inc: inc } : {}), $pull: { effects: { id: ref.effectId } } };
    changed = (await primaries.updateOne(filter, update as Document)).modifiedCount;
  }
  return changed === 1 ? 'aborted' : 'gone';
}

/** Resolves a mark left on a target: finish its effect if pending, clean it if it counts, undo it if it is stale. */
export async function resolveMark(db: Db, collection: string, target: unknown, mark: EffectMark): Promise<'finished' | 'cleaned' | 'undone'> {
  const [effectId, step] = splitKey(mark.key);
  const ref = { collection: mark.primary.collection, id: mark.primary.id, effectId };
  const record = await findEffect(db, ref);
  if (record?.pending.includes(step)) {
    await completeEffect(db, ref, record);
    return 'finished';
  }
  if (record?.done.some((d) => d.step === step && d.token === mark.token)) {
    await db.collection(collection).updateOne({ _id: target as never }, { $pull: { effectMarks: { key: mark.key, token: mark.token } } } as Document);
    return 'cleaned';
  }
  await undoMark(db, collection, target, mark);
  return 'undone';
}

function splitKey(key: string): [string, string] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

export interface RepairSummary {
  finished: number;
  aborted: number;
  marksCleaned: number;
  marksUndone: number;
}

/**
 * Finishes (or aborts) every effect recorded before `before` in the primary collections, then resolves every mark
 * older than `before` on the target collections. Concurrent repairs and requests stay exact: each action is one of
 * the guarded steps above.
 */
export async function repairEffects(
  db: Db,
  collections: { primaries: readonly string[]; targets: readonly string[] },
  before: Date,
): Promise<RepairSummary> {
  const summary: RepairSummary = { finished: 0, aborted: 0, marksCleaned: 0, marksUndone: 0 };
  for (const collection of collections.primaries) {
    const cursor = db.collection(collection).find({ effects: { $elemMatch: { at: { $lt: before } } } }, { projection: { effects: 1 } });
    for await (const doc of cursor) {
      for (const record of (doc.effects as EffectRecord[]).filter((r) => r.at < before)) {
        const outcome = await completeEffect(db, { collection, id: doc._id, effectId: record.id }, record);
        if (outcome === 'done') summary.finished += 1;
        if (outcome === 'aborted') summary.aborted += 1;
      }
    }
  }
  for (const collection of collections.targets) {
    const cursor = db.collection(collection).find({ effectMarks: { $elemMatch: { at: { $lt: before } } } }, { projection: { effectMarks: 1 } });
    for await (const doc of cursor) {
      for (const mark of (doc.effectMarks as EffectMark[]).filter((m) => m.at < before)) {
        const outcome = await resolveMark(db, collection, doc._id, mark);
        if (outcome === 'undone') summary.marksUndone += 1;
        else summary.marksCleaned += 1;
      }
    }
  }
  return summary;
}
