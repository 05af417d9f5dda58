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
export function pathValues(doc: unknown, path: string): unknown[] {
  const parts = path.split('.');
  const out: unknown[] = [];
  const walk = (value: unknown, i: number): void => {
    if (i === parts.length) {
      if (Array.isArray(value)) {
        if (value.length === 0) out.push(EMPTY_ARRAY);
        else for (const v of value) out.push(v);
      } else out.push(value);
      return;
    }
    if (Array.isArray(value)) {
      const idx = /^\d+$/.test(parts[i]) ? Number(parts[i]) : -1;
      if (idx >= 0) {
        walk(value[idx], i + 1);
        return;
      }
      if (value.length === 0) {
        out.push(undefined);
        return;
      }
      for (const v of value) walk(v, i);
      return;
    }
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      walk((value as Document)[parts[i]], i + 1);
      return;
    }
    out.push(undefined);
  };
  walk(doc, 0);
  return out.length ? out : [undefined];
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
