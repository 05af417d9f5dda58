// One index of a collection: entries (key tuple, _id) kept sorted in BSON order with the spec's directions, plus the unique-key map.
import type { Document } from 'bson';
import type { Query } from 'mingo/query';
import { compareBson, typeBracket } from './bson-order.js';
import { parseCollation, type Collation } from './collation.js';
import { DbError } from './errors.js';
import { canonicalKey, getPath, pathValues } from './keys.js';

export interface IndexEntry {
  key: unknown[];
  /** canonical key of the document's _id */
  id: string;
}

export interface DocKeys {
  tuples: unknown[][];
  /** canonical form of each tuple: unique indexes only (their map keys), empty otherwise */
  canon: string[];
}

export class SecondaryIndex {
  readonly name: string;
  readonly fields: string[];
  readonly dirs: (1 | -1)[];
  readonly unique: boolean;
  readonly sparse: boolean;
  /** unique indexes without a collation only: canonical key tuple -> canonical _id of the owner */
  readonly entries: Map<string, string> | undefined;
  /** The index's collation (spec.collation): its entries are ordered, and unique keys compared, by it. */
  readonly collation: Collation | undefined;
  readonly sorted: IndexEntry[] = [];
  /** Set once any document has an array on an indexed path; never cleared (as in mongod). */
  multikey = false;
  /** Bumped on every change, so a paused scan knows to seek again. */
  version = 0;
  /** Query plans that used this index ($indexStats). */
  accesses = 0;
  readonly createdAt = new Date();

  constructor(
    readonly spec: Document,
    readonly partial: Query | undefined,
    /** The _id index: unique through the collection's document map, so no entries map of its own. */
    readonly isId = false,
  ) {
    this.name = spec.name as string;
    this.fields = Object.keys(spec.key as Document);
    this.dirs = this.fields.map((f) => (Number((spec.key as Document)[f]) === -1 ? -1 : 1));
    this.unique = spec.unique === true || isId;
    this.sparse = spec.sparse === true;
    this.collation = parseCollation(spec.collation);
    // Strings equal under a collation have no common canonical form (Intl gives no sort keys): a collated unique
    // index finds an equal key by binary search in its sorted entries instead of in a map.
    this.entries = spec.unique === true && !isId && !this.collation ? new Map() : undefined;
  }

  private compareKeys(a: unknown[], b: unknown[]): number {
    const strings = this.collation?.compare;
    for (let j = 0; j < this.dirs.length; j++) {
      const c = compareBson(a[j], b[j], strings);
      if (c) return c * this.dirs[j];
    }
    return 0;
  }

  /** The _id (canonical) of another document holding one of these keys in a unique index, if any. */
  otherOwner(keys: DocKeys, id: string): string | undefined {
    // The binary _id index is unique through the collection's document map.
    if (!this.unique || (this.isId && !this.collation)) return undefined;
    if (this.entries) {
      for (const c of keys.canon) {
        const owner = this.entries.get(c);
        if (owner !== undefined && owner !== id) return owner;
      }
      return undefined;
    }
    for (const key of keys.tuples) {
      for (let at = this.search((e) => this.compareKeys(e.key, key) < 0); at < this.sorted.length && this.compareKeys(this.sorted[at].key, key) === 0; at++) {
        if (this.sorted[at].id !== id) return this.sorted[at].id;
      }
    }
    return undefined;
  }

  /** Key tuples of a document (one per combination of array elements), or null when it is not in the index (sparse / partial). */
  keysOf(doc: Document): DocKeys | null {
    if (this.isId) return { tuples: [[doc._id]], canon: [] };
    if (this.partial && !this.partial.test(doc)) return null;
    if (this.sparse && this.fields.every((f) => getPath(doc, f) === undefined)) return null;
    if (this.fields.length === 1) {
      const flags = { array: false };
      const values = pathValues(doc, this.fields[0], flags);
      if (flags.array) this.multikey = true;
      if (values.length === 1) {
        const v = values[0] === undefined ? null : values[0];
        return { tuples: [[v]], canon: this.entries ? [canonicalKey(v)] : [] };
      }
    }
    let tuples: unknown[][] = [[]];
    let arrayField: string | undefined;
    for (const f of this.fields) {
      const flags = { array: false };
      const values = pathValues(doc, f, flags);
      if (flags.array) {
        if (arrayField !== undefined) throw new DbError(171, `cannot index parallel arrays [${f}] [${arrayField}]`);
        arrayField = f;
        this.multikey = true;
      }
      const next: unknown[][] = [];
      for (const t of tuples) for (const v of values) next.push([...t, v === undefined ? null : v]);
      tuples = next;
    }
    if (tuples.length === 1) return { tuples, canon: this.entries ? [tuples[0].map(canonicalKey).join('\u0003')] : [] };
    // Array elements can repeat (or be equal across numeric types): one entry per distinct key.
    const canon: string[] = [];
    const out: unknown[][] = [];
    const seen = new Set<string>();
    for (const t of tuples) {
      const c = t.map(canonicalKey).join('\u0003');
      if (seen.has(c)) continue;
      seen.add(c);
      if (this.entries) canon.push(c);
      out.push(t);
    }
    return { tuples: out, canon };
  }

  /** Whether two key sets are the same (an update that leaves them alone needs no index work). */
  sameKeys(a: DocKeys, b: DocKeys): boolean {
    if (a.tuples.length !== b.tuples.length) return false;
    for (let i = 0; i < a.tuples.length; i++) {
      const x = a.tuples[i];
      const y = b.tuples[i];
      for (let j = 0; j < x.length; j++) if (compareBson(x[j], y[j]) !== 0 || typeBracket(x[j]) !== typeBracket(y[j])) return false;
    }
    return true;
  }

  compare(a: IndexEntry, b: IndexEntry): number {
    return this.compareKeys(a.key, b.key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  /** First position whose entry is not below `probe` (probe < entry => 0 <= result). */
  search(below: (e: IndexEntry) => boolean): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (below(this.sorted[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(id: string, keys: DocKeys): void {
    for (const key of keys.tuples) {
      const e = { key, id };
      const n = this.sorted.length;
      // Increasing keys (ObjectIds, dates, counters) are the common case: append without searching or moving.
      if (n === 0 || this.compare(this.sorted[n - 1], e) < 0) this.sorted.push(e);
      else this.sorted.splice(this.search((x) => this.compare(x, e) < 0), 0, e);
    }
    if (this.entries) for (const c of keys.canon) this.entries.set(c, id);
    this.version++;
  }

  delete(id: string, keys: DocKeys): void {
    for (const key of keys.tuples) {
      const e = { key, id };
      const at = this.search((x) => this.compare(x, e) < 0);
      if (at < this.sorted.length && this.compare(this.sorted[at], e) === 0) this.sorted.splice(at, 1);
    }
    if (this.entries) for (const c of keys.canon) if (this.entries.get(c) === id) this.entries.delete(c);
    this.version++;
  }

  /** Builds from scratch (createIndex, recovery): one sort instead of n insertions. */
  build(docs: Map<string, Document>, onDuplicate: (doc: Document) => never): void {
    for (const [id, doc] of docs) {
      const keys = this.keysOf(doc);
      if (!keys) continue;
      if (this.entries) {
        for (const c of keys.canon) {
          const owner = this.entries.get(c);
          if (owner !== undefined && owner !== id) onDuplicate(doc);
          this.entries.set(c, id);
        }
      }
      for (const key of keys.tuples) this.sorted.push({ key, id });
    }
    this.sorted.sort((a, b) => this.compare(a, b));
    if (this.unique && !this.entries && !this.isId) {
      for (let i = 1; i < this.sorted.length; i++) {
        const [a, b] = [this.sorted[i - 1], this.sorted[i]];
        if (a.id !== b.id && this.compareKeys(a.key, b.key) === 0) onDuplicate(docs.get(b.id)!);
      }
    }
    this.version++;
  }
}
