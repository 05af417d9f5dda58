// Multi-document effects (docs/effects.md): the first write records the intent in its own document; every later step is
// one atomic write on another document, guarded by the effect's id, so any party (the request, its retry, a repair run)
// can finish it, as often and as concurrently as it likes, and it is applied exactly once.
import { randomBytes } from 'node:crypto';
import { type Db, type Document, MongoServerError } from 'mongodb';

/** One later step: add `inc` to `target` in `collection`. Its undo is the same inc negated. */
export interface EffectStep {
  name: string;
  collection: string;
  target: string;
  inc: Record<string, number>;
  /**
   * Extra filter the target must match for the step to apply (e.g. `{credits: {$gte: 5}}`): a target that exists
   * without it refuses the step, which ends the effect as REFUSED when nothing was applied yet, or reverses it.
   */
  guard?: Document;
  /** Fields of a target created by the step (an upsert) when it does not exist yet, e.g. a wallet's first credit. */
  upsert?: Record<string, unknown>;
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
  /**
   * When set, a step that cannot be applied after others were (its target is missing or its guard refuses) reverses
   * the effect: each applied step is taken back by its own keyed step `undo:<name>`, and the primary gets these fields
   * instead of doneSet (e.g. a transfer's status REVERSED). Without it such an effect is left for repair.
   */
  reverseSet?: Record<string, unknown>;
  /** True once the effect was turned into its reversal. */
  reversing?: boolean;
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

/**
 * done: every step applied; aborted: the first step's target does not exist, so the first write was rolled back;
 * refused: the first step's guard refused it, and the first write was rolled back; reversed: a later step could not
 * be applied and every applied step was taken back; gone: another party ended the effect (read the primary).
 */
export type EffectOutcome = 'done' | 'aborted' | 'refused' | 'reversed' | 'gone';

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
  let record = known ?? (await findEffect(db, ref));
  // A reversal changes the record's steps once; a party that meets it reads the record again and runs the new steps.
  for (let round = 0; round < 3; round++) {
    if (!record) return 'gone';
    let reread = false;
    for (const step of record.steps) {
      if (!record.pending.includes(step.name)) {
        const done = record.done.find((d) => d.step === step.name);
        if (done) await cleanupMark(db, step, markKey(ref.effectId, step.name), done.token);
        continue;
      }
      const outcome = await runStep(db, ref, record, step);
      if (outcome === 'reread') {
        reread = true;
        break;
      }
      if (outcome !== 'ok') return outcome;
    }
    if (!reread) {
      await finishEffect(db, ref, record);
      return record.reversing ? 'reversed' : 'done';
    }
    record = await findEffect(db, ref);
  }
  throw new Error(`effect ${ref.effectId}: its record kept changing; left for repair`);
}

type StepOutcome = 'ok' | 'reread' | Exclude<EffectOutcome, 'done' | 'reversed'>;

async function runStep(db: Db, ref: EffectRef, record: EffectRecord, step: EffectStep): Promise<StepOutcome> {
  const key = markKey(ref.effectId, step.name);
  const token = randomBytes(12).toString('base64url');
  const targets = db.collection(step.collection);
  const mark: EffectMark = { key, token, inc: step.inc, primary: { collection: ref.collection, id: ref.id }, at: new Date() };
  const applied = await applyStep(db, step, mark);
  let keptToken = token;
  if (!applied) {
    // Read after the refused write: whose application the target kept, or that the target does not exist.
    const target = await targets.findOne({ _id: step.target as never }, { projection: { effectMarks: { $elemMatch: { key } } } });
    if (!target) return cannotApply(db, ref, record, step, 'aborted');
    const existing = (target.effectMarks as EffectMark[] | undefined)?.[0];
    if (!existing) {
      // No mark and not applied by us: acknowledged and cleaned up by another party meanwhile, or refused by the guard.
      if (!step.guard) return 'ok';
      const current = await findEffect(db, ref);
      if (!current) return 'gone';
      if (Boolean(current.reversing) !== Boolean(record.reversing)) return 'reread';
      if (!current.pending.includes(step.name)) return 'ok';
      return cannotApply(db, ref, current, step, 'refused');
    }
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
    // Another party acknowledged it (or the effect is over, or reversed): its record says which application counts.
    const current = await findEffect(db, ref);
    countedToken = current?.done.find((d) => d.step === step.name)?.token ?? '';
    if (applied && countedToken !== token) {
      // This party applied it after the step was already over: a stale duplicate, taken back at once.
      await undoMark(db, step.collection, step.target, { ...mark, token });
      if (!current) return 'gone';
      return Boolean(current.reversing) !== Boolean(record.reversing) ? 'reread' : 'ok';
    }
    if (!current) return 'gone';
    if (Boolean(current.reversing) !== Boolean(record.reversing)) return 'reread';
  }
  await cleanupMark(db, step, key, countedToken);
  return 'ok';
}

/**
 * atomic: applies the step once: only while the target holds no mark of this step (and matches its guard), so
 * concurrent parties apply it once between them. An upsert step creates a missing target; its E11000 (the target
 * exists, so the filter failed on the mark) means "not applied by this party", like a match of nothing.
 */
async function applyStep(db: Db, step: EffectStep, mark: EffectMark): Promise<boolean> {
  const update: Document = { $inc: step.inc, $push: { effectMarks: mark } };
  if (step.upsert) update.$setOnInsert = step.upsert;
  try {
    const result = await db
      .collection(step.collection)
      .updateOne({ _id: step.target as never, 'effectMarks.key': { $ne: mark.key }, ...step.guard }, update, { upsert: step.upsert !== undefined });
    return result.modifiedCount === 1 || result.upsertedCount === 1;
  } catch (error) {
    if (step.upsert !== undefined && error instanceof MongoServerError && error.code === 11000) return false;
    throw error;
  }
}

/**
 * A step cannot be applied (its target is missing, or its guard refuses). Nothing applied yet: the effect never
 * happened and its first write is rolled back. Otherwise a reversible effect turns into its reversal; any other is
 * left for repair (and an operator), loudly.
 */
async function cannotApply(db: Db, ref: EffectRef, known: EffectRecord, step: EffectStep, why: 'aborted' | 'refused'): Promise<StepOutcome> {
  // The record as it is now: the caller's copy may predate acknowledgements (its own, or another party's).
  const record = why === 'refused' ? known : await findEffect(db, ref);
  if (!record) return 'gone';
  if (Boolean(record.reversing) !== Boolean(known.reversing)) return 'reread';
  if (!record.pending.includes(step.name)) return 'ok';
  if (record.done.length === 0 && !record.reversing) return abortEffect(db, ref, record.abort, why);
  if (record.reverseSet && !record.reversing) {
    await reverseEffect(db, ref, record, step);
    return 'reread';
  }
  throw new Error(`effect ${ref.effectId}: step ${step.name} cannot be applied (${why}) after others were; left for repair`);
}

/**
 * atomic: turns the effect into its reversal, only while `failed` is still pending and the effect is not reversing:
 * the pending steps become one undo step per acknowledged step (its inc negated, keyed `undo:<name>`, so it is
 * applied once like any step), and the primary will get reverseSet when they are done.
 */
async function reverseEffect(db: Db, ref: EffectRef, record: EffectRecord, failed: EffectStep): Promise<void> {
  const applied = record.steps.filter((s) => record.done.some((d) => d.step === s.name));
  const undo: EffectStep[] = applied.reverse().map((s) => ({ name: `undo:${s.name}`, collection: s.collection, target: s.target, inc: negate(s.inc) }));
  const reversal: EffectRecord = { ...record, steps: [...record.steps, ...undo], pending: undo.map((s) => s.name), doneSet: record.reverseSet, reversing: true };
  // The whole record in one path, only in the state it was read in (the failed step pending, the same steps done).
  await db.collection(ref.collection).updateOne(
    { _id: ref.id as never, effects: { $elemMatch: { id: ref.effectId, pending: failed.name, reversing: { $ne: true }, done: { $size: record.done.length } } } },
    { $set: { 'effects.$[effect]': reversal } } as Document,
    { arrayFilters: [{ 'effect.id': ref.effectId }] },
  );
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

/**
 * atomic: ends the effect once nothing is pending: removes its record and sets doneSet. Only in the state the caller
 * read (reversing or not), so a party that missed a reversal can never set the doneSet of the effect it was.
 */
async function finishEffect(db: Db, ref: EffectRef, record: EffectRecord): Promise<void> {
  const reversing = record.reversing ? true : { $ne: true };
  await db.collection(ref.collection).updateOne(
    { _id: ref.id as never, effects: { $elemMatch: { id: ref.effectId, pending: { $size: 0 }, reversing } } },
    { $pull: { effects: { id: ref.effectId } }, ...(record.doneSet ? { $set: record.doneSet } : {}) } as Document,
  );
}

/**
 * atomic: the first step's target does not exist or its guard refused it, so the effect never happened: the first
 * write is rolled back (the primary deleted, or its own change negated) together with its record, and only while the
 * record is there with nothing acknowledged.
 */
async function abortEffect(db: Db, ref: EffectRef, abort: EffectAbort, why: 'aborted' | 'refused'): Promise<'aborted' | 'refused' | 'gone'> {
  const filter = { _id: ref.id as never, effects: { $elemMatch: { id: ref.effectId, done: { $size: 0 } } } };
  const primaries = db.collection(ref.collection);
  let changed: number;
  if ('delete' in abort) {
    changed = (await primaries.deleteOne(filter)).deletedCount;
  } else {
    const inc = abort.inc;
    const update = { ...(Object.keys(inc).length > 0 ? { $inc: inc } : {}), $pull: { effects: { id: ref.effectId } } };
    changed = (await primaries.updateOne(filter, update as Document)).modifiedCount;
  }
  return changed === 1 ? why : 'gone';
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
