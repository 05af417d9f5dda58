// In-memory storage: databases, collections of immutable document snapshots, the _id map and every index kept in step with writes.
import { BSON, type Document } from 'bson';
import { parseCollation, type Collation } from './collation.js';
import { DbError } from './errors.js';
import { canonicalKey, getPath } from './keys.js';
import { compileQuery } from './mingo.js';
import { runQuery } from './planner.js';
import { RetryCache } from './retry-cache.js';
import { SecondaryIndex, type DocKeys } from './secondary-index.js';
import type { ChangeListener } from './change-stream.js';

/** Kept for callers that only read index metadata (TTL monitor, listIndexes). */
export type IndexState = SecondaryIndex;

const ID_INDEX_SPEC = { v: 2, key: { _id: 1 }, name: '_id_' };

/**
 * One applied change, as the journal records it: insert / update (the whole new version) / delete a document,
 * create / drop a collection, an index or a database. Replaying them in order rebuilds the store.
 */
export type WriteOp =
  | { op: 'i' | 'u'; db: string; c: string; d: Document }
  | { op: 'd'; db: string; c: string; id: unknown }
  | { op: 'cc'; db: string; c: string; options: Document }
  | { op: 'cm'; db: string; c: string; options: Document }
  | { op: 'dc'; db: string; c: string }
  | { op: 'ci'; db: string; c: string; spec: Document }
  | { op: 'di'; db: string; c: string; name: string }
  | { op: 'dd'; db: string }
  /** The reply of a retryable write (lsid + txnNumber); its changes before it are tagged `r` and replayed only with it. */
  | { op: 'rt'; key: string; at: number; d?: Document };

/** `r` marks a change made by a retryable write whose 'rt' record follows (see Store.retryable). */
export type WriteListener = (op: WriteOp & { r?: 1 }) => void;

export class Collection {
  readonly docs = new Map<string, Document>();
  /** Secondary indexes, in creation order (the _id index is `idIndex`). */
  readonly indexes: SecondaryIndex[] = [];
  /** The _id index; with a collection default collation it is ordered, and unique, by that collation (as in mongod). */
  readonly idIndex: SecondaryIndex;
  private uuidValue: InstanceType<typeof BSON.UUID> | undefined;

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Document = {},
    /** Told about every change after it is applied in memory (the journal); absent for throwaway collections. */
    private readonly onWrite?: WriteListener,
    /** Told about every change with the version it replaced (change streams). */
    private readonly onChange?: ChangeListener,
  ) {
    this.idIndex = new SecondaryIndex(options.collation ? { ...ID_INDEX_SPEC, collation: options.collation } : ID_INDEX_SPEC, undefined, true);
  }

  /** Generated on first use: UUIDs cost a random fill, and throwaway Collection objects never need one. */
  get uuid(): InstanceType<typeof BSON.UUID> {
    this.uuidValue ??= new BSON.UUID();
    return this.uuidValue;
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  /** The collection's default collation (`create` with `collation`), used by commands that give none. */
  get collation(): Collation | undefined {
    return parseCollation(this.options.collation);
  }

  indexSpecs(): Document[] {
    return [this.idIndex.spec, ...this.indexes.map((i) => i.spec)];
  }

  /** Snapshot of all documents in natural (insertion) order. */
  all(): Document[] {
    return Array.from(this.docs.values());
  }

  /** Documents matching `filter` in natural or index order (the planner picks); `limit` stops early. */
  find(filter: Document, limit = 0, variables?: Document, hint?: unknown, collation?: Collation): Document[] {
    const out: Document[] = [];
    for (const doc of runQuery(this, filter, { variables, hint, collation })) {
      out.push(doc);
      if (limit > 0 && out.length >= limit) break;
    }
    return out;
  }

  private duplicateError(idx: SecondaryIndex | undefined, doc: Document): DbError {
    const keyPattern: Document = idx ? idx.spec.key : { _id: 1 };
    const keyValue: Document = {};
    for (const f of Object.keys(keyPattern)) keyValue[f] = getPath(doc, f) ?? null;
    const shown = Object.entries(keyValue)
      .map(([k, v]) => `${k}: ${formatValue(v)}`)
      .join(', ');
    return new DbError(11000, `E11000 duplicate key error collection: ${this.ns} index: ${idx ? idx.name : '_id_'} dup key: { ${shown} }`, {
      keyPattern,
      keyValue,
    });
  }

  /** Index keys of `doc` for every secondary index; throws E11000 (nothing changed) if a unique one is taken by another document. */
  private keysFor(doc: Document, idKey: string): (DocKeys | null)[] {
    return this.indexes.map((idx) => {
      const keys = idx.keysOf(doc);
      if (keys && idx.unique && idx.otherOwner(keys, idKey) !== undefined) throw this.duplicateError(idx, doc);
      return keys;
    });
  }

  insert(doc: Document): void {
    const idKey = canonicalKey(doc._id);
    if (this.docs.has(idKey)) throw this.duplicateError(undefined, doc);
    const idKeys = this.idIndex.keysOf(doc)!;
    // Under a collation "a" and "A" can be one _id: the map is binary, the collated _id index knows.
    if (this.idIndex.collation && this.idIndex.otherOwner(idKeys, idKey) !== undefined) throw this.duplicateError(undefined, doc);
    const newKeys = this.keysFor(doc, idKey);
    this.docs.set(idKey, doc);
    this.idIndex.add(idKey, idKeys);
    this.indexes.forEach((idx, i) => {
      if (newKeys[i]) idx.add(idKey, newKeys[i]);
    });
    this.onWrite?.({ op: 'i', db: this.db, c: this.name, d: doc });
    this.onChange?.({ op: 'i', db: this.db, c: this.name, d: doc });
  }

  /** Swaps in a new version of a document (same _id) together with its index entries, or throws with nothing changed. */
  replace(oldDoc: Document, newDoc: Document, replacement = false): void {
    const idKey = canonicalKey(oldDoc._id);
    const newKeys = this.keysFor(newDoc, idKey);
    this.indexes.forEach((idx, i) => {
      const old = idx.keysOf(oldDoc);
      const next = newKeys[i];
      if (old && next && idx.sameKeys(old, next)) return;
      if (old) idx.delete(idKey, old);
      if (next) idx.add(idKey, next);
    });
    this.docs.set(idKey, newDoc);
    this.onWrite?.({ op: 'u', db: this.db, c: this.name, d: newDoc });
    this.onChange?.({ op: 'u', db: this.db, c: this.name, d: newDoc }, { before: oldDoc, replacement });
  }

  remove(doc: Document): void {
    const idKey = canonicalKey(doc._id);
    if (!this.docs.delete(idKey)) return;
    this.idIndex.delete(idKey, this.idIndex.keysOf(doc)!);
    for (const idx of this.indexes) {
      const keys = idx.keysOf(doc);
      if (keys) idx.delete(idKey, keys);
    }
    this.onWrite?.({ op: 'd', db: this.db, c: this.name, id: doc._id });
    this.onChange?.({ op: 'd', db: this.db, c: this.name, id: doc._id }, { before: doc });
  }

  /** Adds an index, building it fully first so a duplicate key leaves the collection unchanged. */
  addIndex(spec: Document): void {
    const idx = new SecondaryIndex(spec, spec.partialFilterExpression ? compileQuery(spec.partialFilterExpression as Document) : undefined);
    idx.build(this.docs, (doc) => {
      throw this.duplicateError(idx, doc);
    });
    this.indexes.push(idx);
    this.onWrite?.({ op: 'ci', db: this.db, c: this.name, spec });
  }

  dropIndex(name: string): void {
    const i = this.indexes.findIndex((x) => x.name === name);
    if (i < 0) return;
    this.indexes.splice(i, 1);
    this.onWrite?.({ op: 'di', db: this.db, c: this.name, name });
  }
}

/** Renders a value roughly like mongod does inside E11000 messages. */
function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof BSON.ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') {
    try {
      return BSON.EJSON.stringify(v as Document, { relaxed: true });
    } catch {
      return String(v);
    }
  }
  return String(v);
}

export class Store {
  readonly dbs = new Map<string, Map<string, Collection>>();
  /** Replies of retryable writes; part of the durable state, like mongod's config.transactions. */
  readonly retries = new RetryCache();
  /** Set by the persistence layer while journaling; unset during recovery so replay is not journaled again. */
  onWrite: WriteListener | undefined;
  /** Set by the change streams once recovery is over. */
  onChange: ChangeListener | undefined;
  private readonly changed: ChangeListener = (op, detail) => this.onChange?.(op, detail);
  /** True while a retryable write runs: its changes are tagged so that recovery applies them only with its reply. */
  private retrying = false;
  private readonly forward: WriteListener = (op) => this.onWrite?.(this.retrying ? { ...op, r: 1 } : op);

  /**
   * Runs a retryable write (lsid + txnNumber) and remembers its reply. With a journal, its changes and its reply
   * are recorded together: a crash that keeps the changes but not the reply record rolls the changes back on
   * recovery (the client was never answered and will retry), so a retry is applied exactly once, as with mongod's
   * oplog entry and session record written in one storage transaction.
   */
  retryable(key: string, run: () => Document): Document {
    let reply: Document | undefined;
    this.retrying = true;
    try {
      reply = run();
      return reply;
    } finally {
      this.retrying = false;
      const at = Date.now();
      // ok: 0 replies are not remembered (mongod re-executes a failed command), but their changes still count.
      const keep = reply && reply.ok !== 0 ? reply : undefined;
      if (keep) this.retries.set(key, keep, at);
      this.onWrite?.({ op: 'rt', key, at, d: keep });
    }
  }

  getCollection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** Returns the collection, creating it (and its database) implicitly like mongod does on first write. */
  ensureCollection(db: string, name: string, options?: Document): Collection {
    validateNamespace(db, name);
    let colls = this.dbs.get(db);
    if (!colls) {
      colls = new Map();
      this.dbs.set(db, colls);
    }
    let coll = colls.get(name);
    if (!coll) {
      coll = new Collection(db, name, options ?? {}, this.forward, this.changed);
      colls.set(name, coll);
      this.onWrite?.({ op: 'cc', db, c: name, options: options ?? {} });
    }
    return coll;
  }

  dropCollection(db: string, name: string): Collection | undefined {
    const colls = this.dbs.get(db);
    const coll = colls?.get(name);
    if (coll) {
      colls!.delete(name);
      this.onWrite?.({ op: 'dc', db, c: name });
      this.onChange?.({ op: 'dc', db, c: name });
    }
    if (colls && colls.size === 0) this.dbs.delete(db);
    return coll;
  }

  /** collMod: replaces a collection's options (validator, validation level / action). */
  setOptions(db: string, name: string, options: Document): void {
    const coll = this.getCollection(db, name);
    if (!coll) return;
    for (const k of Object.keys(coll.options)) delete coll.options[k];
    Object.assign(coll.options, options);
    this.onWrite?.({ op: 'cm', db, c: name, options });
  }

  dropDatabase(db: string): void {
    const colls = this.dbs.get(db);
    if (!this.dbs.delete(db)) return;
    this.onWrite?.({ op: 'dd', db });
    this.onChange?.({ op: 'dd', db }, { collections: Array.from(colls?.keys() ?? []) });
  }

  /** Applies a journaled change during recovery; a change that does not fit the store means the files disagree. */
  replay(op: WriteOp): void {
    if (op.op === 'dd') return this.dropDatabase(op.db);
    if (op.op === 'cc') {
      this.ensureCollection(op.db, op.c, op.options);
      return;
    }
    if (op.op === 'dc') {
      this.dropCollection(op.db, op.c);
      return;
    }
    if (op.op === 'cm') return this.setOptions(op.db, op.c, op.options);
    if (op.op === 'rt') {
      if (op.d) this.retries.set(op.key, op.d, op.at);
      return;
    }
    const coll = this.getCollection(op.db, op.c);
    if (!coll) throw new Error(`change to ${op.db}.${op.c}, which does not exist`);
    switch (op.op) {
      case 'i':
        return coll.insert(op.d);
      case 'u': {
        const old = coll.docs.get(canonicalKey(op.d._id));
        if (!old) throw new Error(`update of a missing document in ${coll.ns}`);
        return coll.replace(old, op.d);
      }
      case 'd': {
        const old = coll.docs.get(canonicalKey(op.id));
        if (!old) throw new Error(`delete of a missing document in ${coll.ns}`);
        return coll.remove(old);
      }
      case 'ci':
        return coll.addIndex(op.spec);
      case 'di':
        return coll.dropIndex(op.name);
    }
  }
}

export function validateNamespace(db: string, coll?: string): void {
  if (!db || db.length > 63 || /[/\\. "$\0]/.test(db)) throw new DbError(73, `Invalid database name: '${db}'`);
  if (coll !== undefined && (!coll || coll.startsWith('$') || coll.includes('\0') || coll.startsWith('system.') || coll.includes('$'))) {
    throw new DbError(73, `Invalid collection name: ${coll}`);
  }
}
