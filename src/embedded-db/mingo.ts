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
import { compare } from 'mingo/util';
import { DbError } from './errors.js';

/** Largest (sign 1) or smallest (sign -1) value, skipping null and missing like mongod; null when nothing is left. */
function extreme(values: unknown[], sign: 1 | -1): unknown {
  let best: unknown = null;
  let found = false;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (!found || sign * compare(v, best) > 0) {
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
  return extreme(values, sign);
};
const minMaxAccumulator = (sign: 1 | -1) => (coll: unknown[], expr: unknown, options: Options) =>
  extreme(expr === null || expr === undefined ? coll : coll.map((root) => evalExpr(root, expr, ComputeOptions.init(options).update({ root }))), sign);

const FULL_CONTEXT = Context.init({
  accumulator: { ...accumulatorOps, $max: minMaxAccumulator(1), $min: minMaxAccumulator(-1) },
  expression: { ...expressionOps, $max: minMaxExpression(1), $min: minMaxExpression(-1) },
  pipeline: pipelineOps,
  projection: projectionOps,
  query: queryOps,
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

export function compileQuery(filter: Document, variables?: Document): Query {
  return new Query(filter, mingoOptions(variables));
}

/** Runs a pipeline; `extra` options (collectionResolver, processingMode) need their own options object. */
export function runPipeline(docs: Document[], pipeline: Document[], variables?: Document, extra?: Partial<Options>): Document[] {
  const opts = extra ? ComputeOptions.init({ ...BASE_SETTINGS, ...extra }) : ComputeOptions.init(BASE);
  if (variables) opts.update({ variables });
  return new Aggregator(pipeline, fixNow(opts)).run(docs) as Document[];
}

type UpdateOpFactory = (expr: Document, arrayFilters: Document[], options: Options) => (obj: Document) => string[];
const UPDATE_OPS = updateOps as unknown as Record<string, UpdateOpFactory>;

export const isUpdateOperator = (op: string): boolean => op in UPDATE_OPS;

/**
 * Applies update operators to `doc` in place with mingo's operator implementations; returns the modified paths
 * (empty when nothing changed). `condition` is only needed for the positional `$` operator.
 */
export function applyUpdateOperators(doc: Document, modifier: Document, arrayFilters: Document[] | undefined, condition: Document | undefined, variables?: Document): string[] {
  const opts = mingoOptions(variables, { condition: condition ?? {}, updateConfig: { cloneMode: 'copy' } });
  const fns: ((obj: Document) => string[])[] = [];
  for (const op of Object.keys(modifier)) {
    const factory = UPDATE_OPS[op];
    if (!factory) throw new DbError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    fns.push(factory(modifier[op] as Document, arrayFilters ?? [], opts));
  }
  const fields: string[] = [];
  for (const fn of fns) for (const f of fn(doc)) fields.push(f);
  return fields;
}
