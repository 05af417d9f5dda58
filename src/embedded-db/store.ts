// In-memory storage: databases, collections of immutable document snapshots, the _id map and unique/TTL index bookkeeping.
import { BSON, type Document } from 'bson';
import type { Query } from 'mingo/query';
import { DbError } from './errors.js';
import { canonicalKey, getPath, isLookupLiteral, pathValues } from './keys.js';
import { compileQuery } from './mingo.js';

export interface IndexState {
  spec: Document;
  name: string;
  fields: string[];
  unique: boolean;
  sparse: boolean;
  partial: Query | undefined;
  /** unique indexes only: index key -> canonical _id key of the owning document */
  entries: Map<string, string> | undefined;
}

const ID_INDEX_SPEC = { v: 2, key: { _id: 1 }, name: '_id_' };

/**
 * One applied change, as the journal records it: insert / update (the whole new version) / delete a document,
 * create / drop a collection, an index or a database. Replaying them in order rebuilds the store.
 */
export type WriteOp =
  | { op: 'i' | 'u'; db: string; c: string; d: Document }
  | { op: 'd'; db: string; c: string; id: unknown }
  | { op: 'cc'; db: string; c: string; options: Document }
  | { op: 'dc'; db: string; c: string }
  | { op: 'ci'; db: string; c: string; spec: Document }
  | { op: 'di'; db: string; c: string; name: string }
  | { op: 'dd'; db: string };

export type WriteListener = (op: WriteOp) => void;

export class Collection {
  readonly docs = new Map<string, Document>();
  readonly indexes: IndexState[] = [];
  private uuidValue: InstanceType<typeof BSON.UUID> | undefined;

  constructor(
    readonly db: string,
    readonly name: string,
    readonly options: Document = {},
    /** Told about every change after it is applied in memory (the journal); absent for throwaway collections. */
    private readonly onWrite?: WriteListener,
  ) {}

  /** Generated on first use: UUIDs cost a random fill, and throwaway Collection objects never need one. */
  get uuid(): InstanceType<typeof BSON.UUID> {
    this.uuidValue ??= new BSON.UUID();
    return this.uuidValue;
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  indexSpecs(): Document[] {
    return [ID_INDEX_SPEC, ...this.indexes.map((i) => i.spec)];
  }

  /** Snapshot of all documents in natural (insertion) order. */
  all(): Document[] {
    return Array.from(this.docs.values());
  }

  /**
   * Candidate documents for a filter: a Map lookup for `_id` equality / `$in` or full equality on a unique index,
   * otherwise every document. `exact` means the candidates need no further filter test.
   */
  candidates(filter: Document): { docs: Document[]; exact: boolean } {
    const keys = Object.keys(filter);
    if ('_id' in filter) {
      const v = filter._id;
      let values: unknown[] | undefined;
      if (isLookupLiteral(v)) values = [v];
      else if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
        const opKeys = Object.keys(v as Document);
        if (opKeys.length === 1 && opKeys[0] === '$eq' && isLookupLiteral((v as Document).$eq)) values = [(v as Document).$eq];
        else if (opKeys.length === 1 && opKeys[0] === '$in' && Array.isArray((v as Document).$in) && ((v as Document).$in as unknown[]).every(isLookupLiteral)) {
          values = (v as Document).$in as unknown[];
        }
      }
      if (values) {
        const out: Document[] = [];
        const seen = new Set<string>();
        for (const value of values) {
          const k = canonicalKey(value);
          if (seen.has(k)) continue;
          seen.add(k);
          const doc = this.docs.get(k);
          if (doc) out.push(doc);
        }
        return { docs: out, exact: keys.length === 1 };
      }
    }
    for (const idx of this.indexes) {
      if (!idx.entries || idx.partial || idx.sparse) continue;
      if (!idx.fields.every((f) => isLookupLiteral(filter[f]))) continue;
      const key = idx.fields.map((f) => canonicalKey(filter[f])).join('\u0003');
      const id = idx.entries.get(key);
      const doc = id === undefined ? undefined : this.docs.get(id);
      return { docs: doc ? [doc] : [], exact: false };
    }
    return { docs: this.all(), exact: keys.length === 0 };
  }

  /** Documents matching `filter` in natural order; `limit` 1 stops at the first match. */
  find(filter: Document, limit = 0, variables?: Document): Document[] {
    const { docs, exact } = this.candidates(filter);
    if (exact) return limit > 0 ? docs.slice(0, limit) : docs;
    const query = compileQuery(filter, variables);
    const out: Document[] = [];
    for (const doc of docs) {
      if (query.test(doc)) {
        out.push(doc);
        if (limit > 0 && out.length >= limit) break;
      }
    }
    return out;
  }

  /** Index keys of a document for one index, or null when the document is not in it (sparse / partial). */
  indexKeys(idx: IndexState, doc: Document): string[] | null {
    if (idx.partial && !idx.partial.test(doc)) return null;
    if (idx.sparse && idx.fields.every((f) => getPath(doc, f) === undefined)) return null;
    let keys = [''];
    idx.fields.forEach((f, i) => {
      const parts = pathValues(doc, f).map(canonicalKey);
      const next: string[] = [];
      for (const prefix of keys) for (const p of parts) next.push(i === 0 ? p : prefix + '\u0003' + p);
      keys = next;
    });
    return Array.from(new Set(keys));
  }

  private duplicateError(idx: IndexState | undefined, doc: Document): DbError {
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

  /** Throws E11000 if storing `doc` (owned by `idKey`) would violate a unique index; returns the keys to index. */
  private checkUnique(doc: Document, idKey: string): (string[] | null)[] {
    return this.indexes.map((idx) => {
      if (!idx.entries) return null;
      const keys = this.indexKeys(idx, doc);
      if (keys) {
        for (const k of keys) {
          const owner = idx.entries.get(k);
          if (owner !== undefined && owner !== idKey) throw this.duplicateError(idx, doc);
        }
      }
      return keys;
    });
  }

  insert(doc: Document): void {
    const idKey = canonicalKey(doc._id);
    if (this.docs.has(idKey)) throw this.duplicateError(undefined, doc);
    const newKeys = this.checkUnique(doc, idKey);
    this.docs.set(idKey, doc);
    this.indexes.forEach((idx, i) => {
      for (const k of newKeys[i] ?? []) idx.entries?.set(k, idKey);
    });
    this.onWrite?.({ op: 'i', db: this.db, c: this.name, d: doc });
  }

  /** Swaps in a new version of a document (same _id) together with its index entries, or throws with nothing changed. */
  replace(oldDoc: Document, newDoc: Document): void {
    const idKey = canonicalKey(oldDoc._id);
    const newKeys = this.checkUnique(newDoc, idKey);
    this.indexes.forEach((idx, i) => {
      if (!idx.entries) return;
      for (const k of this.indexKeys(idx, oldDoc) ?? []) if (idx.entries.get(k) === idKey) idx.entries.delete(k);
      for (const k of newKeys[i] ?? []) idx.entries.set(k, idKey);
    });
    this.docs.set(idKey, newDoc);
    this.onWrite?.({ op: 'u', db: this.db, c: this.name, d: newDoc });
  }

  remove(doc: Document): void {
    const idKey = canonicalKey(doc._id);
    if (!this.docs.delete(idKey)) return;
    for (const idx of this.indexes) {
      if (!idx.entries) continue;
      for (const k of this.indexKeys(idx, doc) ?? []) if (idx.entries.get(k) === idKey) idx.entries.delete(k);
    }
    this.onWrite?.({ op: 'd', db: this.db, c: this.name, id: doc._id });
  }

  /** Adds an index, building unique entries first so a duplicate leaves the collection unchanged. */
  addIndex(spec: Document): void {
    const idx: IndexState = {
      spec,
      name: spec.name as string,
      fields: Object.keys(spec.key as Document),
      unique: spec.unique === true,
      sparse: spec.sparse === true,
      partial: spec.partialFilterExpression ? compileQuery(spec.partialFilterExpression as Document) : undefined,
      entries: spec.unique === true ? new Map() : undefined,
    };
    if (idx.entries) {
      for (const [idKey, doc] of this.docs) {
        for (const k of this.indexKeys(idx, doc) ?? []) {
          const owner = idx.entries.get(k);
          if (owner !== undefined && owner !== idKey) throw this.duplicateError(idx, doc);
          idx.entries.set(k, idKey);
        }
      }
    }
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
  /** Set by the persistence layer while journaling; unset during recovery so replay is not journaled again. */
  onWrite: WriteListener | undefined;
  private readonly forward: WriteListener = (op) => this.onWrite?.(op);

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
      coll = new Collection(db, name, options ?? {}, this.forward);
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
    }
    if (colls && colls.size === 0) this.dbs.delete(db);
    return coll;
  }

  dropDatabase(db: string): void {
    if (this.dbs.delete(db)) this.onWrite?.({ op: 'dd', db });
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
