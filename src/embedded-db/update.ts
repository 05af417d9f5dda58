// Computes the next version of a document for update/findAndModify/upsert using mingo's updater, then validates it.
import { BSON, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson';
import { cloneDeep, setValue } from 'mingo/util';
import type { Collation } from './collation.js';
import { DbError, badValue } from './errors.js';
import { compareBson } from './bson-order.js';
import { canonicalKey, getPath } from './keys.js';
import { applyUpdateOperators, isUpdateOperator, runPipeline } from './mingo.js';
import { MAX_BSON_SIZE } from './wire.js';

export interface UpdateSpec {
  filter: Document;
  update: Document | Document[];
  arrayFilters?: Document[];
  variables?: Document;
  /** The command's collation: array filters, the positional `$` and `$pull` conditions compare strings by it. */
  collation?: Collation;
}

const NUMERIC_OPS = new Set(['$inc', '$mul']);
const ARRAY_OPS = new Set(['$push', '$addToSet', '$pop', '$pull', '$pullAll']);

const KNOWN_OPERATORS = new Set([
  '$addToSet', '$bit', '$currentDate', '$inc', '$max', '$min', '$mul', '$pop', '$pull', '$pullAll', '$push', '$rename', '$set', '$setOnInsert', '$unset',
]);
const PIPELINE_UPDATE_STAGES = new Set(['$addFields', '$set', '$project', '$unset', '$replaceRoot', '$replaceWith']);

/** Rejects unknown operators/stages even when no document matches, as mongod parses the update up front. */
export function validateUpdateShape(u: Document | Document[]): void {
  const kind = updateKind(u);
  if (kind === 'operators') {
    for (const op of Object.keys(u)) {
      if (!KNOWN_OPERATORS.has(op) || (op !== '$setOnInsert' && !isUpdateOperator(op))) throw new DbError(9, `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`);
    }
    // mongod parses the whole update first, so $set and $setOnInsert on one path fail even when a document matches.
    checkConflicts(u as Document);
  } else if (kind === 'pipeline') {
    for (const stage of u as Document[]) {
      const op = Object.keys(stage ?? {})[0];
      if (!PIPELINE_UPDATE_STAGES.has(op)) throw new DbError(40324, `Unrecognized pipeline stage name: '${op}'`);
    }
  }
}

export type UpdateKind = 'pipeline' | 'operators' | 'replacement';

export function updateKind(u: Document | Document[]): UpdateKind {
  if (Array.isArray(u)) return 'pipeline';
  const keys = Object.keys(u);
  if (keys.length > 0 && keys[0].startsWith('$')) {
    for (const k of keys) {
      if (!k.startsWith('$')) throw new DbError(9, `Unknown modifier: ${k}. Expected a valid update modifier or pipeline-style update specified as an array`);
      const v = u[k];
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        throw new DbError(9, `Modifiers operate on fields but we found type ${Array.isArray(v) ? 'array' : typeof v} instead. For example: {$mod: {<field>: ...}} not {${k}: ${String(v)}}`);
      }
    }
    return 'operators';
  }
  return 'replacement';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') {
    if (v instanceof Date) return 'date';
    if (v instanceof ObjectId) return 'objectId';
    return Object.getPrototypeOf(v) === Object.prototype ? 'object' : ((v as { _bsontype?: string })._bsontype ?? 'object');
  }
  return typeof v;
}

const isNumeric = (v: unknown): boolean =>
  typeof v === 'number' || v instanceof Long || v instanceof Decimal128 || v instanceof Int32 || v instanceof Double;

function idForMessage(doc: Document): string {
  try {
    return BSON.EJSON.stringify({ _id: doc._id }, { relaxed: true });
  } catch {
    return String(doc._id);
  }
}

const NON_CREATING_OPS = new Set(['$unset', '$pull', '$pullAll', '$pop']);

/** mongod refuses to create a field under a scalar (code 28); mingo silently skips it, so check first. */
function checkPathViable(doc: Document, path: string): void {
  const parts = path.split('.');
  let cur: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur === null || cur === undefined) return;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(parts[i])) {
        throw new DbError(28, `Cannot create field '${parts[i]}' in element {${parts.slice(0, i).pop() ?? ''}: [...]}`);
      }
      cur = cur[Number(parts[i])];
      continue;
    }
    if (typeof cur !== 'object' || Object.getPrototypeOf(cur) !== Object.prototype) {
      throw new DbError(28, `Cannot create field '${parts[i]}' in element {${parts[i - 1]}: ${typeName(cur)}}`);
    }
    cur = (cur as Document)[parts[i]];
  }
  const last = parts[parts.length - 1];
  const parentIsScalar = cur !== null && cur !== undefined && (typeof cur !== 'object' || (!Array.isArray(cur) && Object.getPrototypeOf(cur) !== Object.prototype));
  if (parentIsScalar || (Array.isArray(cur) && !/^\d+$/.test(last))) {
    throw new DbError(28, `Cannot create field '${last}' in element {${parts[parts.length - 2]}: ${typeName(cur)}}`);
  }
}

/** mingo skips type-mismatched targets silently; mongod rejects them, so check up front (plain paths only). */
function checkOperandTypes(doc: Document, modifier: Document): void {
  for (const op of Object.keys(modifier)) {
    if (!NON_CREATING_OPS.has(op)) {
      const spec = modifier[op] as Document;
      for (const path of Object.keys(spec)) {
        if (path.includes('.') && !path.includes('$')) checkPathViable(doc, path);
        if (op === '$rename' && typeof spec[path] === 'string' && (spec[path] as string).includes('.')) checkPathViable(doc, spec[path] as string);
      }
    }
    const numeric = NUMERIC_OPS.has(op);
    const array = ARRAY_OPS.has(op);
    if (!numeric && !array) continue;
    for (const path of Object.keys(modifier[op] as Document)) {
      if (path.includes('$')) continue;
      const current = getPath(doc, path);
      if (current === undefined) continue;
      if (numeric && !isNumeric(current)) {
        throw new DbError(
          14,
          `Cannot apply ${op} to a value of non-numeric type. ${idForMessage(doc)} has the field '${path.split('.').pop()}' of non-numeric type ${typeName(current)}`,
        );
      }
      if (array && !Array.isArray(current)) {
        throw new DbError(2, `The field '${path}' must be an array but is of type ${typeName(current)} in document ${idForMessage(doc)}`);
      }
    }
  }
}

/** Positional `$` needs the query to pick the array element; passing it otherwise would only cost a re-match. */
function usesPositional(modifier: Document): boolean {
  for (const op of Object.keys(modifier)) {
    for (const path of Object.keys(modifier[op] as Document)) {
      if (path === '$' || path.includes('.$.') || path.endsWith('.$')) return true;
    }
  }
  return false;
}

export function validateStoredDoc(doc: Document, what: 'insert' | 'update', before?: Document): void {
  for (const k of Object.keys(doc)) {
    if (k === '') throw badValue("Document can't have empty field names");
    // Since 5.0, inserts (and upserts) may store top-level $-prefixed fields; an update may keep but not add one.
    if (k.startsWith('$') && what === 'update' && !(before && k in before)) {
      throw new DbError(52, `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`);
    }
  }
  checkIdSubfields(doc._id);
  const id = doc._id;
  if (Array.isArray(id)) throw badValue("The '_id' value cannot be of type array");
  if (id instanceof RegExp) throw badValue("The '_id' value cannot be of type regex");
  if (id === undefined && what === 'update') throw badValue('_id is missing after update');
  const size = BSON.calculateObjectSize(doc);
  if (size > MAX_BSON_SIZE) {
    throw new DbError(
      what === 'insert' ? 10334 : 17419,
      what === 'insert'
        ? `object to insert too large. size in bytes: ${size}, max size: ${MAX_BSON_SIZE}`
        : `Resulting document after update is larger than ${MAX_BSON_SIZE}`,
    );
  }
}

/** _id may not hold $-prefixed field names at any depth (mongod's storage validation, code 52). */
function checkIdSubfields(id: unknown): void {
  if (id === null || typeof id !== 'object' || Object.getPrototypeOf(id) !== Object.prototype) return;
  for (const [k, v] of Object.entries(id as Document)) {
    if (k.startsWith('$')) throw new DbError(52, `_id fields may not contain '$'-prefixed fields: ${k} is not valid for storage.`);
    checkIdSubfields(v);
  }
}

function withIdFirst(doc: Document, id: unknown): Document {
  if (Object.keys(doc)[0] === '_id' && doc._id === id) return doc;
  const { _id: _ignored, ...rest } = doc;
  return { _id: id, ...rest };
}

/** mongod refuses two operators touching the same path or a path and its prefix (code 40). */
function checkConflicts(modifier: Document): void {
  const paths: string[] = [];
  for (const op of Object.keys(modifier)) {
    const spec = modifier[op] as Document;
    for (const p of Object.keys(spec)) {
      paths.push(p);
      if (op === '$rename' && typeof spec[p] === 'string') paths.push(spec[p] as string);
    }
  }
  if (paths.length < 2) return;
  paths.sort();
  for (let i = 1; i < paths.length; i++) {
    const a = paths[i - 1];
    const b = paths[i];
    if (a === b || b.startsWith(a + '.')) throw new DbError(40, `Updating the path '${b}' would create a conflict at '${a}'`);
  }
}

let timestampIncrement = 0;
let timestampSecond = 0;

/** $currentDate as $set values: a Date, or with {$type: "timestamp"} a BSON Timestamp (mingo always stores a Date). */
function currentDateValues(spec: Document): Document {
  const out: Document = {};
  const now = Date.now();
  for (const [path, v] of Object.entries(spec)) {
    let type = 'date';
    if (v && typeof v === 'object') {
      const t = (v as Document).$type;
      if (Object.keys(v as Document).length !== 1 || (t !== 'date' && t !== 'timestamp')) {
        throw new DbError(2, "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}");
      }
      type = t as string;
    } else if (typeof v !== 'boolean') {
      throw new DbError(2, `${typeName(v)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`);
    }
    if (type === 'timestamp') {
      const second = Math.floor(now / 1000);
      if (second !== timestampSecond) {
        timestampSecond = second;
        timestampIncrement = 0;
      }
      out[path] = new Timestamp({ t: second, i: ++timestampIncrement });
    } else out[path] = new Date(now);
  }
  return out;
}

/**
 * $min / $max on plain paths decided here by mongod's BSON order (across types, under the command's collation) and
 * turned into $set entries; mingo's own comparison is neither. Positional paths stay with mingo.
 */
function minMaxAsSet(base: Document, mod: Document, op: '$min' | '$max', collation: Collation | undefined): Document {
  const { [op]: spec, ...rest } = mod;
  const keep: Document = {};
  const set: Document = {};
  for (const [path, value] of Object.entries(spec as Document)) {
    if (path.includes('$')) {
      keep[path] = value;
      continue;
    }
    const current = getPath(base, path);
    const c = current === undefined ? (op === '$max' ? 1 : -1) : compareBson(value, current, collation?.compare);
    if (op === '$max' ? c > 0 : c < 0) set[path] = value;
  }
  const out: Document = { ...rest };
  if (Object.keys(keep).length) out[op] = keep;
  if (Object.keys(set).length) out.$set = { ...((rest.$set as Document) ?? {}), ...set };
  return out;
}

/** Applies operators with mingo to a private copy; returns the copy and whether anything changed. */
function applyOperators(base: Document, modifier: Document, spec: UpdateSpec, forInsert: boolean): { doc: Document; changed: boolean } {
  let mod = modifier;
  if ('$setOnInsert' in mod) {
    const { $setOnInsert, ...rest } = mod;
    mod = forInsert ? { ...rest, $set: { ...((rest.$set as Document) ?? {}), ...($setOnInsert as Document) } } : rest;
  }
  if ('$currentDate' in mod) {
    const { $currentDate, ...rest } = mod;
    mod = { ...rest, $set: { ...((rest.$set as Document) ?? {}), ...currentDateValues($currentDate as Document) } };
  }
  for (const op of ['$min', '$max'] as const) {
    if (op in mod) mod = minMaxAsSet(base, mod, op, spec.collation);
  }
  if ('$pullAll' in mod && spec.collation) {
    // Under a collation $pullAll is $pull with $in, whose comparison follows it (mingo's $pullAll compares exactly).
    const { $pullAll, ...rest } = mod;
    const asPull = Object.fromEntries(Object.entries($pullAll as Document).map(([path, values]) => [path, { $in: values }]));
    mod = { ...rest, $pull: { ...((rest.$pull as Document) ?? {}), ...asPull } };
  }
  checkOperandTypes(base, mod);
  const copy = cloneDeep(base) as Document;
  if (Object.keys(mod).length === 0) return { doc: copy, changed: false };
  const fields = applyUpdateOperators(copy, mod, spec.arrayFilters, usesPositional(mod) ? spec.filter : undefined, spec.variables, spec.collation);
  return { doc: copy, changed: fields.length > 0 };
}

/** Computes the updated version of an existing document. Throws DbError (nothing stored) when invalid. */
export function computeUpdate(oldDoc: Document, spec: UpdateSpec): { doc: Document; changed: boolean } {
  const u = spec.update;
  validateUpdateShape(u);
  const kind = updateKind(u);
  let next: Document;
  let changed: boolean;
  if (kind === 'pipeline') {
    next = runPipeline([cloneDeep(oldDoc) as Document], u as Document[], spec.variables, undefined, spec.collation)[0];
    // A stage that drops _id ($replaceWith, $project) keeps the original one, as in mongod.
    if (next._id === undefined) next = withIdFirst(next, oldDoc._id);
    changed = canonicalKey(next) !== canonicalKey(oldDoc);
  } else if (kind === 'operators') {
    ({ doc: next, changed } = applyOperators(oldDoc, u as Document, spec, false));
  } else {
    const repl = u as Document;
    if ('_id' in repl && canonicalKey(repl._id) !== canonicalKey(oldDoc._id)) {
      throw new DbError(66, `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${idForMessage(repl).slice(8, -1)}`);
    }
    next = withIdFirst(cloneDeep(repl) as Document, oldDoc._id);
    changed = canonicalKey(next) !== canonicalKey(oldDoc);
  }
  if (!changed) return { doc: oldDoc, changed: false };
  if (canonicalKey(next._id) !== canonicalKey(oldDoc._id)) {
    throw new DbError(66, `Performing an update on the path '_id' would modify the immutable field '_id'`);
  }
  validateStoredDoc(next, 'update', kind === 'replacement' ? undefined : oldDoc);
  return { doc: next, changed: true };
}

/** Builds the equality part of a filter into a document, as mongod does for an upsert's insert. */
function seedFromFilter(filter: Document, out: Document): Document {
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' && Array.isArray(v)) {
      for (const sub of v) if (sub && typeof sub === 'object') seedFromFilter(sub as Document, out);
      continue;
    }
    if (k.startsWith('$')) continue;
    let value: unknown = v;
    if (v instanceof RegExp) continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype) {
      const keys = Object.keys(v as Document);
      if (keys.length > 0 && keys[0].startsWith('$')) {
        if (!('$eq' in (v as Document))) continue;
        value = (v as Document).$eq;
      }
    }
    setValue(out, k, cloneDeep(value));
  }
  return out;
}

/** Builds the document an upsert inserts when nothing matched. */
export function computeUpsert(spec: UpdateSpec): Document {
  const u = spec.update;
  validateUpdateShape(u);
  const kind = updateKind(u);
  const seed = seedFromFilter(spec.filter, {});
  let doc: Document;
  if (kind === 'replacement') {
    const repl = cloneDeep(u) as Document;
    if ('_id' in repl && '_id' in seed && canonicalKey(repl._id) !== canonicalKey(seed._id)) {
      throw new DbError(66, "The _id field cannot be changed from the query's _id in an upsert");
    }
    doc = { ...repl };
    if (!('_id' in doc) && '_id' in seed) doc._id = seed._id;
  } else if (kind === 'pipeline') {
    doc = runPipeline([seed], u as Document[], spec.variables, undefined, spec.collation)[0];
  } else {
    doc = applyOperators(seed, u as Document, { ...spec, filter: {} }, true).doc;
  }
  if (doc._id === undefined) doc = withIdFirst(doc, new ObjectId());
  else doc = withIdFirst(doc, doc._id);
  validateStoredDoc(doc, 'insert');
  return doc;
}
