// Query planner: picks the _id lookup, an index scan (equality, range, prefix, $in; order for sorts) or a collection scan, runs it lazily, and explains it.
import { BSONRegExp, type Document } from 'bson';
import { BracketEdge, compareBson, typeBracket } from './bson-order.js';
import { sameCollation, type Collation, type StringCompare } from './collation.js';
import { DbError } from './errors.js';
import { canonicalKey, isLookupLiteral } from './keys.js';
import { compileQuery } from './mingo.js';
import type { SecondaryIndex } from './secondary-index.js';
import type { Collection } from './store.js';

export interface QueryStats {
  keysExamined: number;
  docsExamined: number;
}

/** Bounds on the first `lower.length` index fields, in value order; all but the last are single points. */
interface KeyRange {
  lower: unknown[];
  upper: unknown[];
  lowerInc: boolean;
  upperInc: boolean;
}

export type Plan =
  | { stage: 'IDHACK'; ids: unknown[]; exact: boolean; providesSort: false }
  | { stage: 'COLLSCAN'; reverse: boolean; providesSort: boolean }
  | { stage: 'IXSCAN'; index: SecondaryIndex; ranges: KeyRange[] | undefined; reverse: boolean; providesSort: boolean; hinted: boolean };

interface Interval {
  lo: unknown;
  loInc: boolean;
  hi: unknown;
  hiInc: boolean;
}

const point = (v: unknown): Interval => ({ lo: v, loInc: true, hi: v, hiInc: true });
const isPoint = (i: Interval, strings?: StringCompare): boolean => i.loInc && i.hiInc && compareBson(i.lo, i.hi, strings) === 0;
const isPlainObject = (v: unknown): v is Document => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/** Strings a regex can match: those starting with its literal prefix when anchored, else every string. */
function regexInterval(re: RegExp | BSONRegExp, strings?: StringCompare): Interval {
  const source = re instanceof RegExp ? re.source : re.pattern;
  const flags = re instanceof RegExp ? re.flags : re.options;
  const all: Interval = { lo: new BracketEdge(4, -1), loInc: true, hi: new BracketEdge(4, 1), hiInc: true };
  // A regex matches bytes, while a collated index orders by collation: no prefix bound (mongod scans all strings too).
  if (strings || !source.startsWith('^') || /[imx]/.test(flags)) return all;
  const m = /^\^([^\\^$.|?*+()[\]{}]*)/.exec(source);
  const prefix = m?.[1] ?? '';
  if (!prefix || /[?*{]/.test(source.charAt(prefix.length + 1))) return all;
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last >= 0xd7ff) return { lo: prefix, loInc: true, hi: new BracketEdge(4, 1), hiInc: true };
  return { lo: prefix, loInc: true, hi: prefix.slice(0, -1) + String.fromCharCode(last + 1), hiInc: false };
}

function rangeInterval(op: string, v: unknown): Interval | null {
  const b = typeBracket(v);
  // MinKey / MaxKey operands compare across every type: no useful bound.
  if (b === 1 || b === 14 || Array.isArray(v)) return null;
  if (op === '$gt' || op === '$gte') return { lo: v, loInc: op === '$gte', hi: new BracketEdge(b, 1), hiInc: true };
  return { lo: new BracketEdge(b, -1), loInc: true, hi: v, hiInc: op === '$lte' };
}

function intersect(a: Interval, b: Interval, strings?: StringCompare): Interval {
  const lo = compareBson(a.lo, b.lo, strings);
  const hi = compareBson(a.hi, b.hi, strings);
  return {
    lo: lo >= 0 ? a.lo : b.lo,
    loInc: lo > 0 ? a.loInc : lo < 0 ? b.loInc : a.loInc && b.loInc,
    hi: hi <= 0 ? a.hi : b.hi,
    hiInc: hi < 0 ? a.hiInc : hi > 0 ? b.hiInc : a.hiInc && b.hiInc,
  };
}

/** Intervals one condition allows for a field, or null when it cannot bound an index scan. */
function conditionIntervals(cond: unknown, multikey: boolean, strings?: StringCompare): Interval[] | null {
  if (cond instanceof RegExp || cond instanceof BSONRegExp) return [regexInterval(cond, strings)];
  if (Array.isArray(cond)) return null;
  if (!isPlainObject(cond) || !Object.keys(cond)[0]?.startsWith('$')) return [point(cond === undefined ? null : cond)];
  let points: Interval[] | null = null;
  let range: Interval | null = null;
  for (const [op, v] of Object.entries(cond)) {
    if (op === '$eq') {
      if (Array.isArray(v)) continue;
      points = [point(v)];
    } else if (op === '$in') {
      if (!Array.isArray(v) || v.some((x) => Array.isArray(x))) continue;
      const list = v.map((x) => (x instanceof RegExp || x instanceof BSONRegExp ? regexInterval(x, strings) : point(x)));
      list.sort((x, y) => compareBson(x.lo, y.lo, strings));
      points = list;
    } else if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') {
      const r = rangeInterval(op, v);
      if (!r) continue;
      // An array can satisfy $gt and $lt with different elements, so a multikey index may only use one bound.
      if (range && multikey) continue;
      range = range ? intersect(range, r, strings) : r;
    } else if (op === '$regex') {
      const flags = typeof cond.$options === 'string' ? cond.$options : '';
      range = regexInterval(v instanceof RegExp || v instanceof BSONRegExp ? v : new BSONRegExp(String(v), flags), strings);
    }
  }
  return points ?? (range ? [range] : null);
}

/** Top-level conditions per field, with those of a top-level $and folded in. */
function conditions(filter: Document): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  const add = (f: Document): void => {
    for (const [k, v] of Object.entries(f)) {
      if (k === '$and' && Array.isArray(v)) {
        for (const sub of v) if (isPlainObject(sub)) add(sub);
      } else if (!k.startsWith('$')) {
        const list = out.get(k) ?? [];
        list.push(v);
        out.set(k, list);
      }
    }
  };
  add(filter);
  return out;
}

function fieldIntervals(conds: unknown[] | undefined, multikey: boolean, strings?: StringCompare): Interval[] | null {
  if (!conds) return null;
  let best: Interval[] | null = null;
  for (const c of conds) {
    const iv = conditionIntervals(c, multikey, strings);
    if (!iv) continue;
    if (!best) best = iv;
    else if (iv.length === 1 && best.length === 1 && !multikey) best = [intersect(best[0], iv[0], strings)];
    else if (iv.length < best.length) best = iv;
  }
  return best;
}

const MAX_RANGES = 1000;

interface Bounds {
  ranges: KeyRange[];
  points: number;
  range: boolean;
  includesNull: boolean;
}

/** Index bounds from the filter: points on leading fields, then at most one range; undefined if the first field is unconstrained. */
function boundsFor(idx: SecondaryIndex, conds: Map<string, unknown[]>): Bounds | undefined {
  let ranges: KeyRange[] = [{ lower: [], upper: [], lowerInc: true, upperInc: true }];
  let points = 0;
  let range = false;
  let includesNull = false;
  for (const f of idx.fields) {
    const strings = idx.collation?.compare;
    const iv = fieldIntervals(conds.get(f), idx.multikey, strings);
    if (!iv || ranges.length * iv.length > MAX_RANGES) break;
    for (const i of iv) if (compareBson(i.lo, null) <= 0 && compareBson(i.hi, null) >= 0) includesNull = true;
    const next: KeyRange[] = [];
    for (const r of ranges) {
      for (const i of iv) next.push({ lower: [...r.lower, i.lo], upper: [...r.upper, i.hi], lowerInc: i.loInc, upperInc: i.hiInc });
    }
    ranges = next;
    if (iv.every((i) => isPoint(i, strings))) points++;
    else {
      range = true;
      break;
    }
  }
  // `$in: []` matches nothing: an empty scan.
  if (ranges.length === 0) return { ranges, points: 1, range: false, includesNull: false };
  if (ranges[0].lower.length === 0) return undefined;
  return { ranges, points, range, includesNull };
}

/** A partial index serves a query only if every document the query matches is in it. */
function impliesPartial(conds: Map<string, unknown[]>, partialFilter: Document): boolean {
  for (const [field, pcond] of conditions(partialFilter)) {
    const qconds = conds.get(field);
    if (!qconds) return false;
    const implied = pcond.every((pc) =>
      qconds.some((qc) => {
        if (canonicalKey(qc) === canonicalKey(pc)) return true;
        // Equality on a value the partial filter accepts.
        const value = isPlainObject(qc) && Object.keys(qc).length === 1 && '$eq' in qc ? qc.$eq : qc;
        if (!isLookupLiteral(value) && value !== null) {
          // {$exists: true} is implied by any bounded condition that excludes missing / null.
          return isPlainObject(pc) && pc.$exists === true && Object.keys(pc).length === 1 && conditionIntervals(qc, false) !== null && !conditionIntervals(qc, false)!.some((i) => compareBson(i.lo, null) <= 0 && compareBson(i.hi, null) >= 0);
        }
        const probe: Document = {};
        let cur = probe;
        const parts = field.split('.');
        parts.forEach((p, i) => {
          if (i === parts.length - 1) cur[p] = value;
          else cur = cur[p] = {};
        });
        return compileQuery({ [field]: pc }).test(probe);
      }),
    );
    if (!implied) return false;
  }
  return true;
}

function sortFields(sort: Document | undefined): [string, number][] {
  if (!sort) return [];
  return Object.entries(sort).map(([k, v]) => [k, Number(v)]);
}

/** Whether scanning `idx` (forward or backward) yields documents in `sort` order: returns the direction, or 0. */
function sortDirection(idx: SecondaryIndex, bounds: Bounds | undefined, sort: [string, number][]): 1 | -1 | 0 {
  if (sort.length === 0 || idx.multikey) return 0;
  const singlePointPrefix = bounds && bounds.ranges.length === 1 ? bounds.points : 0;
  for (const start of new Set([0, singlePointPrefix])) {
    if (start > 0 && sort.length + start > idx.fields.length) continue;
    if (start === 0 && bounds && bounds.ranges.length > 1 && bounds.points > 0 && sort[0][0] !== idx.fields[0]) continue;
    let dir: 1 | -1 | 0 = 0;
    let ok = sort.length + start <= idx.fields.length;
    for (let j = 0; ok && j < sort.length; j++) {
      const f = idx.fields[start + j];
      if (sort[j][0] !== f) ok = false;
      else {
        const d = sort[j][1] * idx.dirs[start + j] > 0 ? 1 : -1;
        if (dir !== 0 && d !== dir) ok = false;
        dir = d;
      }
    }
    if (ok && dir !== 0) return dir;
  }
  return 0;
}

/** _id values of an _id equality / $in filter, or undefined when the filter is something else. */
function idLookup(filter: Document): { ids: unknown[]; exact: boolean } | undefined {
  if (!('_id' in filter)) return undefined;
  const v = filter._id;
  let ids: unknown[] | undefined;
  if (isLookupLiteral(v)) ids = [v];
  else if (isPlainObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$eq' && isLookupLiteral(v.$eq)) ids = [v.$eq];
    else if (keys.length === 1 && keys[0] === '$in' && Array.isArray(v.$in) && (v.$in as unknown[]).every(isLookupLiteral)) ids = v.$in as unknown[];
  }
  return ids ? { ids, exact: Object.keys(filter).length === 1 } : undefined;
}

function findHinted(coll: Collection, hint: unknown): SecondaryIndex | undefined {
  const all = [coll.idIndex, ...coll.indexes];
  if (typeof hint === 'string') return all.find((i) => i.name === hint);
  return all.find((i) => canonicalKey(i.spec.key) === canonicalKey(hint));
}

export const HINT_ERROR = 'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index';

/** Whether a value holds a string anywhere (its equality then depends on the collation). */
function holdsString(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (Array.isArray(v)) return v.some(holdsString);
  return isPlainObject(v) && Object.values(v).some(holdsString);
}

/**
 * Chooses how to answer `filter` (optionally in `sort` order, or as `hint` says). An index gives bounds and order
 * only to a query with its own collation (a hinted one is otherwise scanned whole); the _id lookup serves a
 * collated query only for ids without strings, since the _id map is binary.
 */
export function planQuery(coll: Collection, filter: Document, sort?: Document, hint?: unknown, collation?: Collation): Plan {
  const sortList = sortFields(sort).filter(([f]) => f !== '$natural');
  const natural = sort && '$natural' in sort ? Number(sort.$natural) : 0;
  const conds = conditions(filter);
  const hintGiven = hint !== undefined && hint !== null && !(isPlainObject(hint) && Object.keys(hint).length === 0) && hint !== '';
  // Bounds and order of an index hold under its own collation only.
  const usable = (idx: SecondaryIndex): boolean => sameCollation(idx.collation, collation);
  if (hintGiven) {
    if (isPlainObject(hint) && '$natural' in hint) return { stage: 'COLLSCAN', reverse: Number(hint.$natural) === -1, providesSort: false };
    const idx = findHinted(coll, hint);
    if (!idx) throw new DbError(2, HINT_ERROR);
    if (!usable(idx)) return { stage: 'IXSCAN', index: idx, ranges: undefined, reverse: false, providesSort: false, hinted: true };
    const bounds = boundsFor(idx, conds);
    const dir = sortDirection(idx, bounds, sortList);
    return { stage: 'IXSCAN', index: idx, ranges: bounds?.ranges, reverse: dir === -1, providesSort: dir !== 0, hinted: true };
  }
  if (natural) return { stage: 'COLLSCAN', reverse: natural === -1, providesSort: sortList.length === 0 };
  let byId = idLookup(filter);
  if (byId && collation && byId.ids.some(holdsString)) byId = undefined;
  if (byId && sortList.length === 0) return { stage: 'IDHACK', ids: byId.ids, exact: byId.exact, providesSort: false };
  let best: { idx: SecondaryIndex; bounds: Bounds | undefined; score: number; dir: 1 | -1 | 0 } | undefined;
  for (const idx of [coll.idIndex, ...coll.indexes]) {
    if (idx.spec.hidden === true || !usable(idx)) continue;
    const bounds = boundsFor(idx, conds);
    if (idx.partial && !impliesPartial(conds, idx.spec.partialFilterExpression as Document)) continue;
    // A sparse index lacks the documents where the field is missing, which a bound including null would need.
    if (idx.sparse && (!bounds || bounds.includesNull)) continue;
    const dir = sortDirection(idx, bounds, sortList);
    if (!bounds && dir === 0) continue;
    const score = (bounds ? bounds.points * 4 + (bounds.range ? 2 : 0) : 0) + (dir !== 0 ? 1 : 0) + (idx.unique && bounds && bounds.points === idx.fields.length ? 1 : 0);
    if (!best || score > best.score || (score === best.score && idx.fields.length < best.idx.fields.length)) best = { idx, bounds, score, dir };
  }
  if (byId && (!best || best.score < 4)) return { stage: 'IDHACK', ids: byId.ids, exact: byId.exact, providesSort: false };
  if (best) return { stage: 'IXSCAN', index: best.idx, ranges: best.bounds?.ranges, reverse: best.dir === -1, providesSort: best.dir !== 0, hinted: false };
  return { stage: 'COLLSCAN', reverse: false, providesSort: sortList.length === 0 };
}

function prefixCompare(idx: SecondaryIndex, key: unknown[], bound: unknown[]): number {
  for (let j = 0; j < bound.length; j++) {
    const c = compareBson(key[j], bound[j], idx.collation?.compare);
    if (c) return c * idx.dirs[j];
  }
  return 0;
}

/** [start, end) positions of a range in the index's sorted entries. */
function positions(idx: SecondaryIndex, r: KeyRange): [number, number] {
  const k = r.lower.length - 1;
  const down = idx.dirs[k] === -1;
  const startKey = r.lower.map((v, j) => (idx.dirs[j] === 1 ? v : r.upper[j]));
  const endKey = r.lower.map((v, j) => (idx.dirs[j] === 1 ? r.upper[j] : v));
  const startInc = down ? r.upperInc : r.lowerInc;
  const endInc = down ? r.lowerInc : r.upperInc;
  const start = idx.search((e) => {
    const c = prefixCompare(idx, e.key, startKey);
    return c < 0 || (c === 0 && !startInc);
  });
  const end = idx.search((e) => {
    const c = prefixCompare(idx, e.key, endKey);
    return c < 0 || (c === 0 && endInc);
  });
  return [start, Math.max(start, end)];
}

/** _ids in index order over the ranges (or the whole index); resumes correctly if the index changes between two steps. */
function* scanIndex(idx: SecondaryIndex, ranges: KeyRange[] | undefined, reverse: boolean, stats: QueryStats): Generator<string> {
  const list = ranges ? [...ranges].sort((a, b) => prefixCompare(idx, a.lower.map((v, j) => (idx.dirs[j] === 1 ? v : a.upper[j])), b.lower.map((v, j) => (idx.dirs[j] === 1 ? v : b.upper[j])))) : [undefined];
  if (reverse) list.reverse();
  for (const r of list) {
    const bounds = (): [number, number] => (r ? positions(idx, r) : [0, idx.sorted.length]);
    let [start, end] = bounds();
    let version = idx.version;
    let i = reverse ? end - 1 : start;
    let last: (typeof idx.sorted)[number] | undefined;
    for (;;) {
      if (idx.version !== version) {
        version = idx.version;
        [start, end] = bounds();
        if (last) {
          const after = idx.search((e) => idx.compare(e, last!) <= 0);
          i = reverse ? idx.search((e) => idx.compare(e, last!) < 0) - 1 : after;
        } else i = reverse ? end - 1 : start;
      }
      if (reverse ? i < start : i >= end) break;
      const e = idx.sorted[i];
      i += reverse ? -1 : 1;
      last = e;
      stats.keysExamined++;
      yield e.id;
    }
  }
}

/** Runs a plan lazily: yields matching documents in plan order, counting keys and documents examined. */
export function* runQuery(
  coll: Collection,
  filter: Document,
  opts: { variables?: Document; sort?: Document; hint?: unknown; plan?: Plan; stats?: QueryStats; collation?: Collation } = {},
): Generator<Document> {
  const plan = opts.plan ?? planQuery(coll, filter, opts.sort, opts.hint, opts.collation);
  const stats = opts.stats ?? { keysExamined: 0, docsExamined: 0 };
  const query = Object.keys(filter).length > 0 && !(plan.stage === 'IDHACK' && plan.exact) ? compileQuery(filter, opts.variables, opts.collation) : undefined;
  if (plan.stage === 'IDHACK') {
    const seen = new Set<string>();
    for (const id of plan.ids) {
      const k = canonicalKey(id);
      if (seen.has(k)) continue;
      seen.add(k);
      stats.keysExamined++;
      const doc = coll.docs.get(k);
      if (!doc) continue;
      stats.docsExamined++;
      if (!query || query.test(doc)) yield doc;
    }
    return;
  }
  if (plan.stage === 'COLLSCAN') {
    const source = plan.reverse ? Array.from(coll.docs.values()).reverse() : coll.docs.values();
    for (const doc of source) {
      stats.docsExamined++;
      if (!query || query.test(doc)) yield doc;
    }
    return;
  }
  plan.index.accesses++;
  // A multikey document has several entries, and one updated between two batches can move ahead of the scan:
  // either way it is returned once.
  const seen = new Set<string>();
  for (const id of scanIndex(plan.index, plan.ranges, plan.reverse, stats)) {
    if (seen.has(id)) continue;
    seen.add(id);
    const doc = coll.docs.get(id);
    if (!doc) continue;
    stats.docsExamined++;
    if (!query || query.test(doc)) yield doc;
  }
}

function formatBound(v: unknown): string {
  if (v instanceof BracketEdge) return v.side < 0 ? 'MinKey' : 'MaxKey';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  return String(v);
}

/** mongod-shaped queryPlanner.winningPlan for a plan (FETCH over IXSCAN, COLLSCAN, IDHACK), wrapped in SORT / SKIP / LIMIT. */
export function describePlan(plan: Plan, filter: Document, extra: { sort?: Document; skip?: number; limit?: number }): Document {
  let stage: Document;
  if (plan.stage === 'IDHACK') stage = { stage: 'IDHACK' };
  else if (plan.stage === 'COLLSCAN') stage = { stage: 'COLLSCAN', filter, direction: plan.reverse ? 'backward' : 'forward' };
  else {
    const idx = plan.index;
    const indexBounds: Document = {};
    idx.fields.forEach((f, j) => {
      indexBounds[f] = plan.ranges
        ? Array.from(new Set(plan.ranges.map((r) => (j < r.lower.length ? `${r.lowerInc || j < r.lower.length - 1 ? '[' : '('}${formatBound(r.lower[j])}, ${formatBound(r.upper[j])}${r.upperInc || j < r.lower.length - 1 ? ']' : ')'}` : '[MinKey, MaxKey]'))))
        : ['[MinKey, MaxKey]'];
    });
    stage = {
      stage: 'FETCH',
      ...(Object.keys(filter).length ? { filter } : {}),
      inputStage: {
        stage: 'IXSCAN',
        keyPattern: idx.spec.key,
        indexName: idx.name,
        isMultiKey: idx.multikey,
        isUnique: idx.unique,
        isSparse: idx.sparse,
        isPartial: idx.partial !== undefined,
        indexVersion: 2,
        direction: plan.reverse ? 'backward' : 'forward',
        indexBounds,
      },
    };
  }
  if (extra.sort && Object.keys(extra.sort).length && !plan.providesSort) stage = { stage: 'SORT', sortPattern: extra.sort, inputStage: stage };
  if (extra.skip) stage = { stage: 'SKIP', skipAmount: extra.skip, inputStage: stage };
  if (extra.limit) stage = { stage: 'LIMIT', limitAmount: extra.limit, inputStage: stage };
  return stage;
}
