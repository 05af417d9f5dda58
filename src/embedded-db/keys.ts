// Canonical string encoding of BSON values, so equal values (by MongoDB equality) share one Map key in _id and unique indexes.
import { Binary, BSON, Decimal128, Long, ObjectId, Timestamp, type Document } from 'bson';
import { EMPTY_ARRAY, numberKey } from './bson-order.js';

/**
 * Numbers of different BSON types compare equal in MongoDB (1 == 1.0 == Long(1)), so they share one encoding;
 * everything else is tagged by type so e.g. the string "1" never collides with the number 1.
 */
export function canonicalKey(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return 's' + value;
    case 'number':
      return 'n' + numberKey(value);
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'undefined':
      return 'z';
    case 'bigint':
      return 'n' + value.toString();
    case 'symbol':
      // An empty array in an index key: distinct from missing/null, as in mongod (key `undefined`).
      return 'u';
  }
  if (value === null) return 'z';
  if (value instanceof ObjectId) return 'o' + value.toHexString();
  if (value instanceof Date) return 't' + value.getTime();
  if (Array.isArray(value)) return '[' + value.map(canonicalKey).join('\u0001') + ']';
  if (value instanceof Long || value instanceof Decimal128) return 'n' + numberKey(value);
  if (value instanceof Binary) return 'x' + value.sub_type + ':' + Buffer.from(value.buffer).toString('base64');
  if (value instanceof Timestamp) return 'T' + value.toString();
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    let out = '{';
    for (const k of Object.keys(value as Document)) out += JSON.stringify(k) + ':' + canonicalKey((value as Document)[k]) + '\u0002';
    return out + '}';
  }
  // Rare types (regex, code, min/max key, ...): their BSON bytes are a faithful identity.
  return 'B' + Buffer.from(BSON.serialize({ v: value })).toString('base64');
}

/** True when the value is a plain literal usable for an equality index lookup (no operators, regexes or arrays). */
export function isLookupLiteral(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value !== 'object') return true;
  if (value instanceof ObjectId || value instanceof Date || value instanceof Binary || value instanceof Decimal128 || value instanceof Long) return true;
  if (Array.isArray(value) || value instanceof RegExp) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype) {
    // An embedded document literal is fine as long as it is not an operator expression.
    const keys = Object.keys(value as Document);
    return keys.length > 0 && !keys[0].startsWith('$');
  }
  return false;
}

/** Values of a dotted path, expanding arrays like a multikey index does (a missing field yields undefined). */
export function pathValues(doc: unknown, path: string, flags?: { array: boolean }): unknown[] {
  const out: unknown[] = [];
  // Hot path (every index key, every sort key): a plain top-level field that holds no array.
  if (!path.includes('.') && doc !== null && typeof doc === 'object') {
    const v = (doc as Document)[path];
    if (!Array.isArray(v)) return [v];
  }
  collectPath(doc, path.split('.'), 0, out, flags);
  return out.length ? out : [undefined];
}

/** A top-level function rather than a closure: closures get a name helper per call under tsx, which dominated index upkeep. */
function collectPath(value: unknown, parts: string[], i: number, out: unknown[], flags: { array: boolean } | undefined): void {
  if (i === parts.length) {
    if (Array.isArray(value)) {
      if (flags) flags.array = true;
      if (value.length === 0) out.push(EMPTY_ARRAY);
      else for (const v of value) out.push(v);
    } else out.push(value);
    return;
  }
  if (Array.isArray(value)) {
    if (flags) flags.array = true;
    const idx = /^\d+$/.test(parts[i]) ? Number(parts[i]) : -1;
    if (idx >= 0) {
      collectPath(value[idx], parts, i + 1, out, flags);
      return;
    }
    if (value.length === 0) {
      out.push(undefined);
      return;
    }
    for (const v of value) collectPath(v, parts, i, out, flags);
    return;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    collectPath((value as Document)[parts[i]], parts, i + 1, out, flags);
    return;
  }
  out.push(undefined);
}

/** First value at a dotted path without array expansion (used for TTL and error reporting). */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Document)[part];
  }
  return cur;
}
