// MongoDB's comparison/sort order for BSON values: type brackets, numbers across types, strings by UTF-8 bytes, arrays in sorts.
import { Binary, BSONRegExp, Code, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson';

/** A terminal empty array in an index key or sort key: not missing (null), and sorting before null. */
export const EMPTY_ARRAY: unique symbol = Symbol('empty array');

/** Marks the lower (-1) or upper (1) end of a type bracket in index bounds: compares below / above every value of it. */
export class BracketEdge {
  constructor(
    readonly bracket: number,
    readonly side: -1 | 1,
  ) {}
}

/** BSON comparison order of type brackets (numbers share one, strings and symbols share one). */
export function typeBracket(v: unknown): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 3;
    case 'string':
      return 4;
    case 'boolean':
      return 9;
    case 'undefined':
      return 2;
    case 'symbol':
      return v === EMPTY_ARRAY ? 1.5 : 4;
  }
  if (v === null) return 2;
  if (Array.isArray(v)) return 6;
  if (v instanceof BracketEdge) return v.bracket + v.side * 0.25;
  if (v instanceof Date) return 10;
  if (v instanceof RegExp || v instanceof BSONRegExp) return 12;
  switch ((v as { _bsontype?: string })._bsontype) {
    case 'MinKey':
      return 1;
    case 'MaxKey':
      return 14;
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return 3;
    case 'BSONSymbol':
      return 4;
    case 'Binary':
      return 7;
    case 'ObjectId':
      return 8;
    case 'Timestamp':
      return 11;
    case 'Code':
      return 13;
  }
  return 5;
}

export const isNumeric = (v: unknown): boolean => typeBracket(v) === 3;

/** Exact decimal form of a number-like value: [sign, digits without trailing zeros, power of ten], or a special. */
type Exact = { special: number } | { neg: boolean; digits: bigint; exp: number };

function exactOfNumber(x: number): Exact {
  if (!Number.isFinite(x)) return { special: x };
  if (x === 0) return { neg: false, digits: 0n, exp: 0 };
  const neg = x < 0;
  let m = Math.abs(x);
  // Every double is m * 2^e with an integer m; scale until integral, then turn 2^-k into 5^k / 10^k.
  let k = 0;
  while (!Number.isInteger(m)) {
    m *= 2;
    k++;
  }
  let digits = BigInt(m) * 5n ** BigInt(k);
  let exp = -k;
  while (digits !== 0n && digits % 10n === 0n) {
    digits /= 10n;
    exp++;
  }
  return { neg, digits, exp };
}

function exactOfDecimal(d: Decimal128): Exact {
  const s = d.toString();
  if (s === 'NaN') return { special: NaN };
  if (s === 'Infinity') return { special: Infinity };
  if (s === '-Infinity') return { special: -Infinity };
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/i.exec(s);
  if (!m) return { special: Number(s) };
  let digits = BigInt(m[2] + (m[3] ?? ''));
  let exp = Number(m[4] ?? 0) - (m[3]?.length ?? 0);
  if (digits === 0n) return { neg: false, digits: 0n, exp: 0 };
  while (digits % 10n === 0n) {
    digits /= 10n;
    exp++;
  }
  return { neg: m[1] === '-', digits, exp };
}

function toNumberLike(v: unknown): number | bigint | Decimal128 {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  if (v instanceof Long) return Number.isSafeInteger(v.toNumber()) ? v.toNumber() : v.toBigInt();
  if (v instanceof Int32 || v instanceof Double) return v.valueOf();
  return v as Decimal128;
}

function exact(v: number | bigint | Decimal128): Exact {
  if (typeof v === 'number') return exactOfNumber(v);
  if (typeof v === 'bigint') return v === 0n ? { neg: false, digits: 0n, exp: 0 } : exactOfBig(v);
  return exactOfDecimal(v);
}

function exactOfBig(v: bigint): Exact {
  const neg = v < 0n;
  let digits = neg ? -v : v;
  let exp = 0;
  while (digits % 10n === 0n) {
    digits /= 10n;
    exp++;
  }
  return { neg, digits, exp };
}

function compareExact(a: Exact, b: Exact): number {
  if ('special' in a || 'special' in b) {
    // NaN sorts below every other number in MongoDB.
    const x = 'special' in a ? a.special : a.neg ? -1 : a.digits === 0n ? 0 : 1;
    const y = 'special' in b ? b.special : b.neg ? -1 : b.digits === 0n ? 0 : 1;
    if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
    if (Number.isNaN(y)) return 1;
    if ('special' in a && 'special' in b) return x === y ? 0 : x < y ? -1 : 1;
    if ('special' in a) return x < 0 ? -1 : 1;
    return y < 0 ? 1 : -1;
  }
  const sa = a.digits === 0n ? 0 : a.neg ? -1 : 1;
  const sb = b.digits === 0n ? 0 : b.neg ? -1 : 1;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  // Same sign: compare magnitudes by aligning powers of ten.
  const shift = a.exp - b.exp;
  const ma = shift > 0 ? a.digits * 10n ** BigInt(shift) : a.digits;
  const mb = shift < 0 ? b.digits * 10n ** BigInt(-shift) : b.digits;
  const c = ma === mb ? 0 : ma < mb ? -1 : 1;
  return sa < 0 ? -c : c;
}

export function compareNumbers(a: unknown, b: unknown): number {
  const x = toNumberLike(a);
  const y = toNumberLike(b);
  if (typeof x === 'number' && typeof y === 'number') {
    if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
    if (Number.isNaN(y)) return 1;
    return x === y ? 0 : x < y ? -1 : 1;
  }
  return compareExact(exact(x), exact(y));
}

/**
 * Strings compare by UTF-8 bytes, i.e. by code point. UTF-16 code units agree with that except that surrogates
 * (U+D800-DFFF) must sort above U+E000-FFFF; shifting the two ranges fixes the order without encoding.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const cmp = (x: number, y: number): number => (x === y ? 0 : x < y ? -1 : 1);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * Total order of BSON values as mongod compares them (the ordering used by sorts, range operators and indexes).
 * `strings` compares string values (a collation); field names and everything else stay binary.
 */
export function compareBson(a: unknown, b: unknown, strings: (x: string, y: string) => number = compareStrings): number {
  const ta = typeBracket(a);
  const tb = typeBracket(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case 1:
    case 1.5:
    case 2:
    case 14:
      return 0;
    case 3:
      return compareNumbers(a, b);
    case 4:
      return strings(String(a), String(b));
    case 5: {
      const ka = Object.keys(a as Document);
      const kb = Object.keys(b as Document);
      for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
        const va = (a as Document)[ka[i]];
        const vb = (b as Document)[kb[i]];
        const c = cmp(typeBracket(va), typeBracket(vb)) || compareStrings(ka[i], kb[i]) || compareBson(va, vb, strings);
        if (c) return c;
      }
      return cmp(ka.length, kb.length);
    }
    case 6: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
        const c = compareBson(xa[i], xb[i], strings);
        if (c) return c;
      }
      return cmp(xa.length, xb.length);
    }
    case 7: {
      const ba = a as Binary;
      const bb = b as Binary;
      return cmp(ba.position, bb.position) || cmp(ba.sub_type, bb.sub_type) || compareBytes(ba.buffer.subarray(0, ba.position), bb.buffer.subarray(0, bb.position));
    }
    case 8:
      return compareBytes((a as ObjectId).id, (b as ObjectId).id);
    case 9:
      return cmp(Number(a), Number(b));
    case 10:
      return cmp((a as Date).getTime(), (b as Date).getTime());
    case 11: {
      const x = a as Timestamp;
      const y = b as Timestamp;
      return cmp(x.t, y.t) || cmp(x.i, y.i);
    }
    case 12: {
      const x = a instanceof RegExp ? { p: a.source, f: a.flags } : { p: (a as BSONRegExp).pattern, f: (a as BSONRegExp).options };
      const y = b instanceof RegExp ? { p: b.source, f: b.flags } : { p: (b as BSONRegExp).pattern, f: (b as BSONRegExp).options };
      return compareStrings(x.p, y.p) || compareStrings(x.f, y.f);
    }
    case 13:
      return compareStrings((a as Code).code, (b as Code).code);
  }
  return 0;
}

/** MongoDB equality: same bracket and equal (1 == 1.0 == Long(1) == Decimal128("1.0")); null equals missing. */
export function equalsBson(a: unknown, b: unknown, strings?: (x: string, y: string) => number): boolean {
  return compareBson(a, b, strings) === 0;
}

/** Canonical numeric key: equal numbers of any BSON type share it (used by the _id map and unique indexes). */
export function numberKey(v: unknown): string {
  const x = toNumberLike(v);
  if (typeof x === 'number') {
    if (Number.isNaN(x)) return 'NaN';
    if (Object.is(x, -0)) return '0';
    if (Number.isInteger(x) && Math.abs(x) >= 2 ** 53) return BigInt(x).toString();
    return String(x);
  }
  if (typeof x === 'bigint') return x.toString();
  const e = exactOfDecimal(x);
  if ('special' in e) return String(e.special);
  const asNumber = Number(x.toString());
  // A decimal equal to a double shares the double's key; any other decimal gets its exact digits.
  if (Number.isFinite(asNumber) && compareExact(exactOfNumber(asNumber), e) === 0) return numberKey(asNumber);
  return `${e.neg ? '-' : ''}${e.digits}e${e.exp}`;
}

/**
 * The value a sort on `path` uses for a document: the smallest (ascending) or largest (descending) of the values
 * the path reaches, descending into arrays; an empty array sorts before null.
 */
export function sortKey(values: unknown[], direction: 1 | -1, strings?: (x: string, y: string) => number): unknown {
  if (values.length === 1) return values[0];
  let best = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareBson(values[i], best, strings);
    if (direction === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}
