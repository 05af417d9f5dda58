// Change streams: a bounded in-memory history of applied changes (the embedded oplog), the $changeStream stage over
// it, and tailable await cursors whose getMore waits for the next event, as a replica set member serves them.
import { Long, Timestamp, type Document } from 'bson';
import { randomBytes } from 'node:crypto';
import { compareBson } from './bson-order.js';
import { DbError, notSupported } from './errors.js';
import { canonicalKey } from './keys.js';
import { runPipeline } from './mingo.js';
import type { Store, WriteOp } from './store.js';

/** What the store tells about a change besides the journal record: the version it replaced, how it was written. */
export interface ChangeDetail {
  before?: Document;
  /** A replacement-style update (`replace` event) rather than an operator or pipeline update (`update`). */
  replacement?: boolean;
  /** dropDatabase: the collections it dropped (each gets its `drop` event first, as in mongod). */
  collections?: string[];
}

export type ChangeListener = (op: WriteOp, detail?: ChangeDetail) => void;

type OperationType = 'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'dropDatabase';

interface ChangeRecord {
  key: bigint;
  ts: Timestamp;
  wall: Date;
  op: OperationType;
  db: string;
  coll?: string;
  id?: unknown;
  before?: Document;
  after?: Document;
  /** The update's description, computed once for every cursor that reports it. */
  description?: Document;
}

interface StreamCursor {
  id: number;
  ns: string;
  db: string;
  /** Absent: every collection of `db` (or of every database when `cluster`). */
  coll?: string;
  cluster: boolean;
  stages: Document[];
  lookup: boolean;
  /** Key of the last history record scanned: the stream continues after it. */
  pos: bigint;
  /** The token to start with is an event that invalidates this stream: the first batch is its invalidate. */
  invalidateFirst?: ChangeRecord;
  connection?: number;
  /** The pending awaitData getMore, if any: called when history grows, the cursor is killed or its time is up. */
  wake?: (reason: 'event' | 'killed') => void;
}

/** Stages mongod accepts after $changeStream. */
const ALLOWED_STAGES = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$replaceRoot', '$replaceWith', '$redact']);
const SPEC_FIELDS = new Set(['resumeAfter', 'startAfter', 'startAtOperationTime', 'fullDocument', 'fullDocumentBeforeChange', 'allChangesForCluster', 'showExpandedEvents']);
/** mongod's default wait of an awaitData getMore without maxTimeMS. */
const DEFAULT_AWAIT_MS = 1000;
/** Above the ids CursorManager hands out (from < 1e9 upwards) and below 2^53, so they survive promoteLongs. */
const FIRST_CURSOR_ID = 4_000_000_000_000_000;
const INTERNAL_DBS = new Set(['admin', 'config', 'local']);
const DEFERRED = Symbol('deferred reply');

const historyLost = (): DbError =>
  new DbError(286, 'Resume of change stream was not possible, as the resume point may no longer be in the oplog.', { codeName: 'ChangeStreamHistoryLost' });
const invalidToken = (why: string): DbError => new DbError(260, `Invalid resume token: ${why}`, { codeName: 'InvalidResumeToken' });

/** A reply that is not ready yet: the server writes it when the promise settles (an awaitData getMore). */
export function deferredReply(reply: Document): Promise<Document> | undefined {
  return (reply as { [DEFERRED]?: Promise<Document> })[DEFERRED];
}

/**
 * The change history and the change stream cursors of one server. Tokens carry this server's incarnation: after a
 * restart the history starts empty (the journal keeps documents, not change events), so an older token is refused
 * with ChangeStreamHistoryLost (286), as mongod refuses a token that fell off its oplog.
 */
export class ChangeStreams {
  private readonly history: ChangeRecord[] = [];
  private readonly cursors = new Map<number, StreamCursor>();
  private readonly incarnation = randomBytes(4).toString('hex');
  private lastT: number;
  private lastI = 0;
  /** Tokens before this key are no longer in the history. */
  private floor: bigint;
  private nextId = FIRST_CURSOR_ID;
  private wakeScheduled = false;

  constructor(
    private readonly store: Store,
    /** How many changes are kept for resuming; an older resume point gets ChangeStreamHistoryLost. */
    // Each kept update holds the version it replaced (its description is computed only if a stream reads it).
    private readonly capacity = Number(process.env.EMBEDDED_DB_CHANGE_HISTORY ?? 10_000),
  ) {
    this.lastT = Math.floor(Date.now() / 1000);
    this.floor = BigInt(this.lastT) << 32n;
    store.onChange = (op, detail) => this.record(op, detail);
  }

  owns(id: number): boolean {
    return id >= FIRST_CURSOR_ID;
  }

  private nextTs(): { key: bigint; ts: Timestamp } {
    const t = Math.max(Math.floor(Date.now() / 1000), this.lastT);
    this.lastI = t === this.lastT ? this.lastI + 1 : 1;
    this.lastT = t;
    return { key: (BigInt(t) << 32n) | BigInt(this.lastI), ts: new Timestamp({ t, i: this.lastI }) };
  }

  private latestKey(): bigint {
    return this.history.at(-1)?.key ?? this.floor;
  }

  private push(rec: Omit<ChangeRecord, 'key' | 'ts' | 'wall'>): void {
    this.history.push({ ...this.nextTs(), wall: new Date(), ...rec });
    if (this.history.length > this.capacity) {
      const dropped = this.history.splice(0, this.history.length - this.capacity);
      this.floor = dropped.at(-1)!.key;
    }
  }

  private record(op: WriteOp, detail: ChangeDetail = {}): void {
    switch (op.op) {
      case 'i':
        this.push({ op: 'insert', db: op.db, coll: op.c, id: op.d._id, after: op.d });
        break;
      case 'u':
        if (detail.replacement) this.push({ op: 'replace', db: op.db, coll: op.c, id: op.d._id, after: op.d });
        else this.push({ op: 'update', db: op.db, coll: op.c, id: op.d._id, before: detail.before, after: op.d });
        break;
      case 'd':
        this.push({ op: 'delete', db: op.db, coll: op.c, id: op.id });
        break;
      case 'dc':
        this.push({ op: 'drop', db: op.db, coll: op.c });
        break;
      case 'dd':
        for (const coll of detail.collections ?? []) this.push({ op: 'drop', db: op.db, coll });
        this.push({ op: 'dropDatabase', db: op.db });
        break;
      default:
        return;
    }
    if (this.wakeScheduled || this.cursors.size === 0) return;
    // After the command that wrote it has finished: one wake-up for all the changes of a multi-document write.
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const c of this.cursors.values()) c.wake?.('event');
    });
  }

  private token(key: bigint, invalidate = false): Document {
    const t = Number(key >> 32n);
    const i = Number(key & 0xffffffffn);
    return { _data: `82${hex8(t)}${hex8(i)}${this.incarnation}${invalidate ? '02' : '01'}` };
  }

  /** The history key a token stands for, and whether it is an invalidate event's token. */
  private parseToken(token: unknown): { key: bigint; invalidate: boolean } {
    const data = token && typeof token === 'object' ? (token as Document)._data : undefined;
    const m = typeof data === 'string' ? /^82([0-9a-f]{8})([0-9a-f]{8})([0-9a-f]{8})(0[12])$/.exec(data) : null;
    if (!m) throw invalidToken('not a token this server issued');
    if (m[3] !== this.incarnation) throw historyLost();
    return { key: (BigInt(parseInt(m[1]!, 16)) << 32n) | BigInt(parseInt(m[2]!, 16)), invalidate: m[4] === '02' };
  }

  private inScope(c: StreamCursor, rec: ChangeRecord): boolean {
    if (c.cluster) return !INTERNAL_DBS.has(rec.db) && !rec.coll?.startsWith('system.');
    if (rec.db !== c.db) return false;
    return c.coll === undefined ? !rec.coll?.startsWith('system.') : rec.coll === c.coll;
  }

  /** A collection stream ends at its collection's drop (or its database's); a database stream at dropDatabase. */
  private invalidates(c: StreamCursor, rec: ChangeRecord): boolean {
    if (c.cluster) return false;
    if (c.coll !== undefined) return rec.op === 'drop' && rec.db === c.db && rec.coll === c.coll;
    return rec.op === 'dropDatabase' && rec.db === c.db;
  }

  private event(c: StreamCursor, rec: ChangeRecord): Document {
    const ev: Document = { _id: this.token(rec.key), operationType: rec.op, clusterTime: rec.ts, wallTime: rec.wall };
    if (rec.op === 'insert' || rec.op === 'replace') ev.fullDocument = rec.after;
    if (rec.op === 'update' && c.lookup) ev.fullDocument = this.store.getCollection(rec.db, rec.coll!)?.docs.get(canonicalKey(rec.id)) ?? null;
    ev.ns = rec.coll === undefined ? { db: rec.db } : { db: rec.db, coll: rec.coll };
    if (rec.id !== undefined) ev.documentKey = { _id: rec.id };
    if (rec.op === 'update') {
      if (!rec.description) {
        rec.description = describeUpdate(rec.before ?? {}, rec.after ?? {});
        // Only the description is needed from now on: the two versions may be collected.
        rec.before = rec.after = undefined;
      }
      ev.updateDescription = rec.description;
    }
    return ev;
  }

  private invalidateEvent(rec: ChangeRecord): Document {
    return { _id: this.token(rec.key, true), operationType: 'invalidate', clusterTime: rec.ts, wallTime: rec.wall };
  }

  /** Index of the first record after `key`. */
  private indexAfter(key: bigint): number {
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.key <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The next events of a cursor (at most `max`, plus an invalidate); `done` once it is invalidated. */
  private collect(c: StreamCursor, max: number): { events: Document[]; done: boolean } {
    if (c.pos < this.floor) throw historyLost();
    if (c.invalidateFirst) return { events: [this.invalidateEvent(c.invalidateFirst)], done: true };
    const events: Document[] = [];
    for (let i = this.indexAfter(c.pos); i < this.history.length && events.length < max; i++) {
      const rec = this.history[i]!;
      c.pos = rec.key;
      if (!this.inScope(c, rec)) continue;
      const ev = this.event(c, rec);
      const shaped = c.stages.length ? runPipeline([ev], c.stages)[0] : ev;
      if (shaped) {
        if (compareBson(shaped._id, ev._id) !== 0) {
          throw new DbError(280, 'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline.', { codeName: 'ChangeStreamFatalError' });
        }
        events.push(shaped);
      }
      if (this.invalidates(c, rec)) {
        events.push(this.invalidateEvent(rec));
        return { events, done: true };
      }
    }
    if (events.length < max && c.pos < this.latestKey()) c.pos = this.latestKey();
    return { events, done: false };
  }

  private reply(c: StreamCursor, events: Document[], done: boolean, first: boolean): Document {
    if (done) this.cursors.delete(c.id);
    const last = events.at(-1);
    const postBatchResumeToken = last && last.operationType === 'invalidate' ? last._id : last && done ? last._id : this.token(c.pos);
    const cursor: Document = { [first ? 'firstBatch' : 'nextBatch']: events, postBatchResumeToken, id: Long.fromNumber(done ? 0 : c.id), ns: c.ns };
    return { cursor, ...(first ? { operationTime: this.tsOf(this.latestKey()) } : {}), ok: 1 };
  }

  private tsOf(key: bigint): Timestamp {
    return new Timestamp({ t: Number(key >> 32n), i: Number(key & 0xffffffffn) });
  }

  /** aggregate with $changeStream first: opens the cursor at the resume point (or now) and returns what is there. */
  open(cmd: Document, db: string, connection?: number): Document {
    const pipeline = cmd.pipeline as Document[];
    const spec = pipeline[0]!.$changeStream as Document;
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new DbError(50808, '$changeStream stage expects a document as argument');
    for (const k of Object.keys(spec)) if (!SPEC_FIELDS.has(k)) throw new DbError(40415, `BSON field '$changeStream.${k}' is an unknown field.`);
    const stages = pipeline.slice(1);
    for (const stage of stages) {
      const op = Object.keys(stage ?? {})[0] ?? '';
      if (op === '$changeStream') throw new DbError(40602, '$changeStream is only valid as the first stage in a pipeline.');
      if (!ALLOWED_STAGES.has(op)) throw new DbError(31011, `${op} is not permitted in a $changeStream pipeline`);
    }
    const fullDocument = spec.fullDocument ?? 'default';
    if (fullDocument !== 'default' && fullDocument !== 'updateLookup') {
      throw notSupported(`fullDocument: '${String(fullDocument)}' needs pre- and post-images, which the embedded database does not keep; use 'updateLookup'`);
    }
    if ((spec.fullDocumentBeforeChange ?? 'off') !== 'off') throw notSupported('fullDocumentBeforeChange needs pre-images, which the embedded database does not keep');
    const cluster = spec.allChangesForCluster === true;
    if (cluster && db !== 'admin') throw new DbError(73, "$changeStream may only be run against the 'admin' database if allChangesForCluster is true");
    const coll = typeof cmd.aggregate === 'string' ? cmd.aggregate : undefined;
    if (coll === undefined && cmd.aggregate !== 1) throw new DbError(73, 'Invalid namespace for a $changeStream');
    if (!cluster && coll === undefined && db === 'admin') throw new DbError(73, "$changeStream may not be opened on the internal admin database unless allChangesForCluster is true");
    if (coll !== undefined && this.store.getCollection(db, coll)?.options.viewOn) throw new DbError(166, `Namespace ${db}.${coll} is a view, not a collection`);
    const starts = ['resumeAfter', 'startAfter', 'startAtOperationTime'].filter((k) => spec[k] !== undefined);
    if (starts.length > 1) throw new DbError(40674, 'Only one of resumeAfter, startAfter and startAtOperationTime can be specified.');
    const c: StreamCursor = {
      id: this.nextId++,
      ns: coll === undefined ? `${db}.$cmd.aggregate` : `${db}.${coll}`,
      db,
      coll,
      cluster,
      stages,
      lookup: fullDocument === 'updateLookup',
      pos: this.latestKey(),
      connection,
    };
    if (spec.resumeAfter !== undefined || spec.startAfter !== undefined) {
      const { key, invalidate } = this.parseToken(spec.resumeAfter ?? spec.startAfter);
      if (invalidate && spec.resumeAfter !== undefined) throw new DbError(260, 'Cannot resume a change stream after an invalidate: use startAfter', { codeName: 'InvalidResumeToken' });
      if (key < this.floor) throw historyLost();
      c.pos = key;
      const rec = invalidate ? undefined : this.history[this.indexAfter(key) - 1];
      // Resuming right after the event that invalidated the stream: mongod answers with that invalidate again.
      if (rec && rec.key === key && this.inScope(c, rec) && this.invalidates(c, rec) && spec.resumeAfter !== undefined) c.invalidateFirst = rec;
    } else if (spec.startAtOperationTime !== undefined) {
      const ts = spec.startAtOperationTime;
      if (!(ts instanceof Timestamp)) throw new DbError(14, "BSON field '$changeStream.startAtOperationTime' is the wrong type, expected type 'timestamp'");
      const key = (BigInt(ts.high) << 32n) | BigInt(ts.low);
      if (key - 1n < this.floor) throw historyLost();
      c.pos = key - 1n;
    }
    const batchSize = (cmd.cursor as Document | undefined)?.batchSize;
    const max = batchSize === undefined ? 101 : Number(batchSize);
    const { events, done } = this.collect(c, max);
    if (!done) this.cursors.set(c.id, c);
    return this.reply(c, events, done, true);
  }

  /** getMore: returns waiting events at once, else waits (up to maxTimeMS) for one, else an empty batch with the token of now. */
  getMore(id: number, ns: string, batchSize: number | undefined, maxTimeMS: number | undefined): Document {
    const c = this.cursors.get(id);
    // Labelled like mongod's: the driver resumes from its last token instead of failing the stream.
    if (!c) throw new DbError(43, `cursor id ${id} not found`, { errorLabels: ['ResumableChangeStreamError'] });
    if (c.ns !== ns) throw new DbError(13, `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`);
    if (c.wake) throw new DbError(2, 'another getMore is already waiting on this cursor');
    const max = batchSize && batchSize > 0 ? batchSize : Number.MAX_SAFE_INTEGER;
    const now = this.collect(c, max);
    if (now.events.length > 0 || now.done) return this.reply(c, now.events, now.done, false);
    const later = new Promise<Document>((resolve) => {
      const finish = (reply: Document): void => {
        clearTimeout(timer);
        c.wake = undefined;
        resolve(reply);
      };
      const timer = setTimeout(() => finish(this.reply(c, [], false, false)), maxTimeMS && maxTimeMS > 0 ? maxTimeMS : DEFAULT_AWAIT_MS);
      c.wake = (reason) => {
        if (reason === 'killed') return finish({ cursor: { nextBatch: [], postBatchResumeToken: this.token(c.pos), id: Long.fromNumber(0), ns: c.ns }, ok: 1 });
        try {
          const next = this.collect(c, max);
          if (next.events.length > 0 || next.done) finish(this.reply(c, next.events, next.done, false));
        } catch (err) {
          this.cursors.delete(c.id);
          const e = err instanceof DbError ? err : new DbError(1, String(err));
          finish({ ok: 0, errmsg: e.message, code: e.code, codeName: e.codeName, ...(e.extra ?? {}) });
        }
      };
    });
    return { [DEFERRED]: later };
  }

  /** killCursors: closes the change stream cursors among `ids` and hands the others to `others`. */
  killCursors(ids: number[], others: (ids: number[]) => Document): Document {
    const mine = ids.filter((id) => this.owns(id));
    const reply = others(ids.filter((id) => !this.owns(id)));
    for (const id of mine) {
      const c = this.cursors.get(id);
      this.cursors.delete(id);
      c?.wake?.('killed');
      ((c ? reply.cursorsKilled : reply.cursorsNotFound) as Long[]).push(Long.fromNumber(id));
    }
    return reply;
  }

  /** Cursors die with the connection that opened them, as in mongod. */
  closeConnection(connection: number): void {
    for (const [id, c] of this.cursors) {
      if (c.connection !== connection) continue;
      this.cursors.delete(id);
      c.wake?.('killed');
    }
  }

  clear(): void {
    for (const c of this.cursors.values()) c.wake?.('killed');
    this.cursors.clear();
  }
}

/** True when the pipeline is a change stream (its first stage is $changeStream). */
export function isChangeStream(pipeline: unknown): boolean {
  return Array.isArray(pipeline) && pipeline.length > 0 && typeof pipeline[0] === 'object' && pipeline[0] !== null && '$changeStream' in pipeline[0];
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

const isPlainObject = (v: unknown): v is Document =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !('_bsontype' in v) && !(v instanceof Uint8Array) && !(v instanceof RegExp);

const same = (a: unknown, b: unknown): boolean => a === b || (a !== undefined && b !== undefined && compareBson(a, b) === 0 && sameShape(a, b));

/** compareBson ignores nothing but treats 1 and 1.0 alike; a type change is still a change for the event. */
function sameShape(a: unknown, b: unknown): boolean {
  return typeof a === typeof b && Array.isArray(a) === Array.isArray(b);
}

/**
 * The updateDescription of an update event, from the versions before and after (mongod derives it from the oplog's
 * delta, which has the same shape): changed or added fields by dotted path, sub-documents and arrays descended into,
 * appended array elements as `field.index`, shortened arrays in truncatedArrays, removed fields by path.
 */
export function describeUpdate(before: Document, after: Document): Document {
  const updatedFields: Document = {};
  const removedFields: string[] = [];
  const truncatedArrays: Document[] = [];
  const walk = (a: Document, b: Document, prefix: string): void => {
    for (const [k, v] of Object.entries(b)) {
      const path = prefix + k;
      if (!(k in a)) updatedFields[path] = v;
      else diffValue(a[k], v, path);
    }
    for (const k of Object.keys(a)) if (!(k in b)) removedFields.push(prefix + k);
  };
  const diffValue = (a: unknown, b: unknown, path: string): void => {
    if (same(a, b)) return;
    if (isPlainObject(a) && isPlainObject(b)) return walk(a, b, `${path}.`);
    if (Array.isArray(a) && Array.isArray(b)) {
      const common = Math.min(a.length, b.length);
      let changed = 0;
      for (let i = 0; i < common; i++) if (!same(a[i], b[i])) changed++;
      // A rewritten array (sorted, reordered) is reported whole, as mongod does when its delta would not be smaller.
      if (changed > 0 && changed * 2 > common) {
        updatedFields[path] = b;
        return;
      }
      for (let i = 0; i < common; i++) diffValue(a[i], b[i], `${path}.${i}`);
      for (let i = common; i < b.length; i++) updatedFields[`${path}.${i}`] = b[i];
      if (b.length < a.length) truncatedArrays.push({ field: path, newSize: b.length });
      return;
    }
    updatedFields[path] = b;
  };
  walk(before, after, '');
  return { updatedFields, removedFields, truncatedArrays };
}
