// Thin adapter over mingo: one prebuilt operator context reused by every query, update and pipeline (rebuilding it per call dominated CPU).
import type { Document } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import * as accumulatorOps from 'mingo/operators/accumulator';
import * as expressionOps from 'mingo/operators/expression';
import * as pipelineOps from 'mingo/operators/pipeline';
import * as projectionOps from 'mingo/operators/projection';
import * as queryOps from 'mingo/operators/query';
import * as updateOps from 'mingo/operators/update';
import * as windowOps from 'mingo/operators/window';
import { Query } from 'mingo/query';
import type { Options } from 'mingo/types';
import { Lazy } from 'mingo/lazy';
import { flatten, resolve, setValue } from 'mingo/util';
import { compareBson, equalsBson, sortKey, typeBracket } from './bson-order.js';
import type { Collation, StringCompare } from './collation.js';
import { DbError } from './errors.js';
import { compileJsonSchema } from './json-schema.js';
import { canonicalKey, pathValues } from './keys.js';

/** The string comparison of the collation a query or pipeline was compiled with (undefined: simple, binary). */
function stringsOf(options: unknown): StringCompare | undefined {
  return ((options as { local?: { collation?: Collation } } | undefined)?.local?.collation)?.compare;
}

/** Largest (sign 1) or smallest (sign -1) value, skipping null and missing like mongod; null when nothing is left. */
function extreme(values: unknown[], sign: 1 | -1, strings?: StringCompare): unknown {
  let best: unknown = null;
  let found = false;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (!found || sign * compareBson(v, best, strings) > 0) {
      best = v;
      found = true;
    }
  }
  return best;
}

/*
 * mingo 7.2.7 computes $max/$min by sorting with Array#sort, which moves undefined to the end without asking the
 * comparator: {$max: ['$missing', '$$NOW']} yields null instead of the date, and $min returns null whenever a null
 * is present. These replacements keep mongod's rule (null and missing are ignored).
 */
const minMaxExpression = (sign: 1 | -1) => (obj: unknown, expr: unknown, options: Options) => {
  const operands = Array.isArray(expr) ? expr : [expr];
  let values = operands.map((e) => evalExpr(obj, e, options));
  // A single operand that resolves to an array is traversed (mongod's documented behaviour).
  if (operands.length === 1 && Array.isArray(values[0])) values = values[0] as unknown[];
  return extreme(values, sign, stringsOf(options));
};
const minMaxAccumulator = (sign: 1 | -1) => (coll: unknown[], expr: unknown, options: Options) =>
  extreme(expr === null || expr === undefined ? coll : coll.map((root) => evalExpr(root, expr, ComputeOptions.init(options).update({ root }))), sign, stringsOf(options));

/*
 * Comparison query operators with mongod's rules, which mingo 7 does not follow: numbers of different BSON types
 * are equal when their values are (Decimal128("1.0") == 1), strings order by UTF-8 bytes, and range operators
 * only match values of the operand's type bracket. An array field matches when it or any element does.
 */
type Predicate = (lhs: unknown, rhs: unknown) => boolean;

function candidates(lhs: unknown, depth: number): unknown[] {
  return Array.isArray(lhs) ? [lhs, ...flatten(lhs, depth)] : [lhs];
}

const isNil = (v: unknown): boolean => v === null || v === undefined;

function eqPredicate(depth: number, strings?: StringCompare): Predicate {
  return (lhs, rhs) => {
    if (rhs === null) return isNil(lhs) || (Array.isArray(lhs) && flatten(lhs, depth).some(isNil));
    return candidates(lhs, depth).some((v) => v !== undefined && equalsBson(v, rhs, strings));
  };
}

function inPredicate(depth: number, strings?: StringCompare): Predicate {
  const eq = eqPredicate(depth, strings);
  return (lhs, rhs) => {
    if (!Array.isArray(rhs)) throw new DbError(2, '$in needs an array');
    return rhs.some((r) => (r instanceof RegExp ? candidates(lhs, depth).some((v) => typeof v === 'string' && r.test(v)) : eq(lhs, r)));
  };
}

function rangePredicate(test: (c: number) => boolean, depth: number, strings?: StringCompare): Predicate {
  return (lhs, rhs) => {
    const bracket = typeBracket(rhs);
    const values = lhs === undefined ? [null] : candidates(lhs, depth);
    return values.some((v) => (bracket === 1 || bracket === 14 || typeBracket(v) === bracket) && test(compareBson(v === undefined ? null : v, rhs, strings)));
  };
}

const queryOperator =
  (make: (depth: number, strings?: StringCompare) => Predicate, negate = false) =>
  (selector: string, value: unknown, options: Options) => {
    const depth = selector.split('.').length - 1 || 1;
    const predicate = make(depth, stringsOf(options));
    return (obj: Document) => {
      const lhs = resolve(obj, selector, { unwrapArray: true });
      return negate ? !predicate(lhs, value) : predicate(lhs, value);
    };
  };

const COMPARISON_QUERY_OPS = {
  $eq: queryOperator(eqPredicate),
  $ne: queryOperator(eqPredicate, true),
  $in: queryOperator(inPredicate),
  $nin: queryOperator(inPredicate, true),
  $gt: queryOperator((d, s) => rangePredicate((c) => c > 0, d, s)),
  $gte: queryOperator((d, s) => rangePredicate((c) => c >= 0, d, s)),
  $lt: queryOperator((d, s) => rangePredicate((c) => c < 0, d, s)),
  $lte: queryOperator((d, s) => rangePredicate((c) => c <= 0, d, s)),
};

/** Aggregation comparison expressions compare across types by the full BSON order. */
const comparisonExpression = (test: (c: number) => boolean | number) => (obj: unknown, expr: unknown, options: Options) => {
  const [a, b] = evalExpr(obj, expr, options) as unknown[];
  return test(compareBson(a === undefined ? null : a, b === undefined ? null : b, stringsOf(options)));
};

/**
 * Values that are equal under a collation ("a" and "A" at strength 2), merged: returns, for each value, the first
 * equal one seen (a sorted list and binary search, so n log(distinct) comparisons).
 */
export function collationClasses(strings: StringCompare): (v: unknown) => unknown {
  const seen: unknown[] = [];
  return (v) => {
    let lo = 0;
    let hi = seen.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBson(seen[mid], v, strings) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo < seen.length && compareBson(seen[lo], v, strings) === 0) return seen[lo];
    seen.splice(lo, 0, v);
    return v;
  };
}

/** $group under a collation: documents whose keys are equal under it form one group (mingo groups by exact value). */
const groupStage = (coll: { transform(f: (docs: Document[]) => unknown): unknown }, expr: Document, options: Options) => {
  const strings = stringsOf(options);
  if (!strings) return (pipelineOps.$group as (c: unknown, e: Document, o: Options) => unknown)(coll, expr, options);
  return coll.transform((docs) => {
    const classOf = collationClasses(strings);
    const groups = new Map<unknown, Document[]>();
    for (const d of docs) {
      const raw = evalExpr(d, expr._id, options);
      const key = classOf(raw === undefined ? null : raw);
      const list = groups.get(key);
      if (list) list.push(d);
      else groups.set(key, [d]);
    }
    const out: Document[] = [];
    for (const [key, members] of groups) {
      const grouped = (pipelineOps.$group as unknown as (c: unknown, e: Document, o: Options) => { collect(): Document[] })(Lazy(members), { ...expr, _id: { $literal: key } }, options);
      out.push(...grouped.collect());
    }
    return Lazy(out);
  });
};

/**
 * $lookup with localField/foreignField, joined by MongoDB equality: a local value (or any element of an array) joins
 * the foreign documents whose field (or any element) equals it — across numeric types, by the aggregation's
 * collation for strings — and null or missing joins null and missing; foreign documents come in natural order.
 * mingo joins by exact value and answers `[null]` for an array with no match, so this form is done here (a hash
 * join on each value's class); the pipeline form stays with mingo, its $match being collation-aware already.
 */
const lookupStage = (coll: { transform(f: (docs: Document[]) => unknown): unknown }, expr: Document, options: Options) => {
  if (typeof expr.localField !== 'string' || typeof expr.foreignField !== 'string' || expr.pipeline !== undefined) {
    return (pipelineOps.$lookup as unknown as (c: unknown, e: Document, o: Options) => unknown)(coll, expr, options);
  }
  const strings = stringsOf(options);
  const resolver = (options as { collectionResolver?: (name: string) => Document[] }).collectionResolver;
  const foreign = typeof expr.from === 'string' ? (resolver?.(expr.from) ?? []) : [];
  const classOf = strings ? collationClasses(strings) : (v: unknown) => v;
  const keyOf = (v: unknown): string => canonicalKey(classOf(v === undefined ? null : v));
  const byKey = new Map<string, number[]>();
  foreign.forEach((f, i) => {
    for (const key of new Set(pathValues(f, expr.foreignField as string).map(keyOf))) {
      const list = byKey.get(key);
      if (list) list.push(i);
      else byKey.set(key, [i]);
    }
  });
  return coll.transform((docs) =>
    Lazy(
      docs.map((doc) => {
        const hits = new Set<number>();
        for (const v of pathValues(doc, expr.localField as string)) for (const i of byKey.get(keyOf(v)) ?? []) hits.add(i);
        const out = { ...doc };
        setValue(out, expr.as as string, Array.from(hits).sort((a, b) => a - b).map((i) => foreign[i]));
        return out;
      }),
    ),
  );
};

/** Sorts documents like mongod: BSON order, and for an array the smallest (ascending) or largest (descending) element. */
export function sortDocuments<T extends Document>(docs: T[], spec: Document, strings?: StringCompare): T[] {
  if (Object.keys(spec).length === 1 && '$natural' in spec) return Number(spec.$natural) === -1 ? docs.slice().reverse() : docs;
  const fields = Object.keys(spec).map((f) => {
    const d = spec[f];
    const dir = typeof d === 'object' && d !== null && 'valueOf' in d ? Number((d as { valueOf(): unknown }).valueOf()) : d;
    if (dir !== 1 && dir !== -1) throw new DbError(15975, '$sort key ordering must be 1 (for ascending) or -1 (for descending)');
    return { f, dir: dir as 1 | -1 };
  });
  if (fields.length === 0) return docs;
  const keyed = docs.map((d, i) => ({ d, i, k: fields.map(({ f, dir }) => sortKey(pathValues(d, f), dir, strings)) }));
  keyed.sort((x, y) => {
    for (let j = 0; j < fields.length; j++) {
      const c = compareBson(x.k[j], y.k[j], strings);
      if (c) return fields[j].dir * c;
    }
    return x.i - y.i;
  });
  return keyed.map((k) => k.d);
}

const sortStage = (coll: { transform(f: (docs: Document[]) => unknown): unknown }, spec: Document, options: Options) =>
  coll.transform((docs) => Lazy(sortDocuments(docs, spec, stringsOf(options))));

const FULL_CONTEXT = Context.init({
  accumulator: { ...accumulatorOps, $max: minMaxAccumulator(1), $min: minMaxAccumulator(-1) },
  expression: {
    ...expressionOps,
    $max: minMaxExpression(1),
    $min: minMaxExpression(-1),
    $cmp: comparisonExpression((c) => c),
    $eq: comparisonExpression((c) => c === 0),
    $ne: comparisonExpression((c) => c !== 0),
    $gt: comparisonExpression((c) => c > 0),
    $gte: comparisonExpression((c) => c >= 0),
    $lt: comparisonExpression((c) => c < 0),
    $lte: comparisonExpression((c) => c <= 0),
  },
  pipeline: { ...pipelineOps, $sort: sortStage, $group: groupStage, $lookup: lookupStage },
  projection: projectionOps,
  query: { ...queryOps, ...COMPARISON_QUERY_OPS },
  window: windowOps,
} as never);

/** mingo's ComputeOptions: passing an instance (rather than a plain object) makes mingo skip copying the whole context. */
interface ComputeOptionsLike extends Options {
  update(locals: Document): ComputeOptionsLike;
}
interface ComputeOptionsClass {
  init(options: unknown): ComputeOptionsLike;
}

/**
 * mingo does not export ComputeOptions, but hands an instance to every operator; a throwaway custom operator
 * captures it so we can get at the class through the public API.
 */
const ComputeOptions: ComputeOptionsClass = (() => {
  let captured: unknown;
  const capture = (_selector: string, _value: unknown, options: unknown) => {
    captured = options;
    return () => true;
  };
  const ctx = Context.init({ query: { $embeddedCapture: capture } } as never);
  new Query({ x: { $embeddedCapture: 1 } }, { context: ctx });
  if (!captured || typeof (captured as { constructor?: unknown }).constructor !== 'function') throw new Error('mingo internals changed: cannot capture ComputeOptions');
  return (captured as { constructor: ComputeOptionsClass }).constructor;
})();

const BASE_SETTINGS = {
  idKey: '_id',
  // Server-side JavaScript ($where, $function, $accumulator) stays off: clients must not run code in the server.
  scriptEnabled: false,
  useStrictMode: true,
  failOnError: true,
  processingMode: 0,
  context: FULL_CONTEXT,
  // The $jsonSchema query operator (in queries and validators) with MongoDB's dialect.
  jsonSchemaValidator: (schema: unknown) => {
    const compiled = compileJsonSchema(schema);
    return (doc: unknown) => compiled.test(doc);
  },
};
const BASE = ComputeOptions.init(BASE_SETTINGS);

/** Fresh per-call options sharing the prebuilt context (cheap). */
export function mingoOptions(variables?: Document, locals?: Document): Options {
  const opts = ComputeOptions.init(BASE);
  if (variables || locals) opts.update({ ...locals, ...(variables ? { variables } : {}) });
  return fixNow(opts);
}

/**
 * mongod evaluates $$NOW once per operation. mingo reads the clock lazily, per copy of its options, so two
 * $$NOW in one update could differ by a millisecond; reading it here pins one instant for every copy made later.
 */
function fixNow<T>(opts: T): T {
  void (opts as unknown as { readonly now: Date }).now;
  return opts;
}

/** Evaluates a command's `let` once, as mongod does: each value is an expression (`{$add: [1, 2]}` becomes 3). */
export function evaluateLet(letVars: unknown): Document | undefined {
  if (letVars === undefined || letVars === null) return undefined;
  if (typeof letVars !== 'object' || Array.isArray(letVars)) throw new DbError(14, "BSON field 'let' is the wrong type, expected type 'object'");
  const opts = mingoOptions();
  const out: Document = {};
  for (const [name, expr] of Object.entries(letVars as Document)) {
    if (!/^[a-z\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/.test(name)) throw new DbError(2, `'${name}' starts with an invalid character for a user variable name`);
    out[name] = evalExpr({}, expr, opts);
  }
  return out;
}

/** A query; with a collation its string comparisons ($eq, $in, ranges) follow it. */
export function compileQuery(filter: Document, variables?: Document, collation?: Collation): Query {
  return new Query(filter, mingoOptions(variables, collation ? { collation } : undefined));
}

/** Runs a pipeline; `extra` options (collectionResolver, processingMode) need their own options object. */
export function runPipeline(docs: Document[], pipeline: Document[], variables?: Document, extra?: Partial<Options>, collation?: Collation): Document[] {
  const opts = extra ? ComputeOptions.init({ ...BASE_SETTINGS, ...extra }) : ComputeOptions.init(BASE);
  if (variables) opts.update({ variables });
  if (collation) opts.update({ collation } as Document);
  return new Aggregator(pipeline, fixNow(opts)).run(docs) as Document[];
}

type UpdateOpFactory = (expr: Document, arrayFilters: Document[], options: Options) => (obj: Document) => string[];
const UPDATE_OPS = updateOps as unknown as Record<string, UpdateOpFactory>;

export const isUpdateOperator = (op: string): boolean => op in UPDATE_OPS;

/**
 * mingo 7 checks conflicts on the path before the first positional element only, so `a.$[e].x` and `a.$[e].y` in
 * one operator look like two updates of `a`. Each positional path gets its own operator call (real conflicts were
 * already refused by the update's own path check, as mongod does).
 */
function splitPositional(spec: Document): Document[] {
  const keys = Object.keys(spec);
  if (keys.length < 2 || !keys.some((k) => k.includes('$'))) return [spec];
  const plain: Document = {};
  const parts: Document[] = [plain];
  for (const k of keys) {
    if (k.includes('$')) parts.push({ [k]: spec[k] });
    else plain[k] = spec[k];
  }
  return Object.keys(plain).length ? parts : parts.slice(1);
}

/**
 * $addToSet under a collation: a value equal by it to an element already there (or to one added before it) is not
 * added. mingo compares exactly, so the values are filtered first (plain paths; positional ones stay exact).
 */
function collatedAddToSet(factory: UpdateOpFactory, spec: Document, arrayFilters: Document[], opts: Options, strings: StringCompare): (obj: Document) => string[] {
  return (obj) => {
    const kept: Document = {};
    for (const [path, raw] of Object.entries(spec)) {
      if (path.includes('$')) {
        kept[path] = raw;
        continue;
      }
      const each = raw !== null && typeof raw === 'object' && !Array.isArray(raw) && '$each' in (raw as Document);
      const values = each ? ((raw as Document).$each as unknown[]) : [raw];
      const current = resolve(obj, path);
      const present: unknown[] = Array.isArray(current) ? [...current] : [];
      const adding: unknown[] = [];
      for (const v of values) {
        if (present.some((x) => typeBracket(x) === typeBracket(v) && compareBson(x, v, strings) === 0)) continue;
        present.push(v);
        adding.push(v);
      }
      // Nothing new still creates a missing array, as without a collation.
      if (adding.length || current === undefined) kept[path] = { $each: adding };
    }
    return Object.keys(kept).length ? factory(kept, arrayFilters, opts)(obj) : [];
  };
}

/**
 * Applies update operators to `doc` in place with mingo's operator implementations; returns the modified paths
 * (empty when nothing changed). `condition` is only needed for the positional `$` operator.
 */
export function applyUpdateOperators(
  doc: Document,
  modifier: Document,
  arrayFilters: Document[] | undefined,
  condition: Document | undefined,
  variables?: Document,
  collation?: Collation,
): string[] {
  const opts = mingoOptions(variables, { condition: condition ?? {}, updateConfig: { cloneMode: 'copy' }, ...(collation ? { collation } : {}) });
  const fns: ((obj: Document) => string[])[] = [];
  for (const op of Object.keys(modifier)) {
    const factory = UPDATE_OPS[op];
    if (!factory) throw new DbError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    for (const part of splitPositional(modifier[op] as Document)) {
      if (op === '$addToSet' && collation) fns.push(collatedAddToSet(factory, part, arrayFilters ?? [], opts, collation.compare));
      else fns.push(factory(part, arrayFilters ?? [], opts));
    }
  }
  const fields: string[] = [];
  for (const fn of fns) for (const f of fn(doc)) fields.push(f);
  return fields;
}
