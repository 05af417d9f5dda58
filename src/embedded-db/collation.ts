// MongoDB collations on top of Intl.Collator (Node's full ICU): parsing and normalizing a collation document, and its string comparison.
import type { Document } from 'bson';
import { DbError, notSupported } from './errors.js';

/** A non-simple collation; `undefined` everywhere stands for the simple (binary) one. */
export interface Collation {
  /** The normalized document mongod reports (listCollections, listIndexes). */
  readonly spec: Document;
  /** Identity: two collations with the same id order and compare strings alike. */
  readonly id: string;
  readonly compare: (a: string, b: string) => number;
}

export type StringCompare = (a: string, b: string) => number;

/** ICU's collation version as mongod 7/8 report it in normalized collation documents. */
const ICU_VERSION = '57.1';

const FIELDS = new Set(['locale', 'caseLevel', 'caseFirst', 'strength', 'numericOrdering', 'alternate', 'maxVariable', 'normalization', 'backwards', 'version']);

const cache = new Map<string, Collation | undefined>();

function bool(spec: Document, field: string): boolean {
  const v = spec[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new DbError(14, `BSON field 'collation.${field}' is the wrong type '${typeof v}', expected type 'bool'`);
  return v;
}

function oneOf(spec: Document, field: string, values: string[], fallback: string): string {
  const v = spec[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !values.includes(v)) throw new DbError(2, `Field '${field}' must be one of ${values.map((x) => `'${x}'`).join(', ')}. Got: ${String(v)}`);
  return v;
}

/**
 * Parses a command's or index's `collation` document as mongod does; returns undefined for the simple collation.
 * Supported: any ICU locale Node knows, strength 1–5 (4 and 5 compare like 3: Intl has no quaternary or identical
 * level), caseLevel, caseFirst, numericOrdering, alternate. `backwards: true` (French accent order) is refused.
 */
export function parseCollation(raw: unknown): Collation | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new DbError(14, `BSON field 'collation' is the wrong type '${Array.isArray(raw) ? 'array' : typeof raw}', expected type 'object'`);
  const spec = raw as Document;
  const cacheKey = JSON.stringify(spec);
  if (cache.has(cacheKey)) return cache.get(cacheKey);
  for (const k of Object.keys(spec)) if (!FIELDS.has(k)) throw new DbError(40415, `BSON field 'collation.${k}' is an unknown field.`);
  const locale = spec.locale;
  if (locale === undefined) throw new DbError(40414, "BSON field 'collation.locale' is missing but a required field");
  if (typeof locale !== 'string') throw new DbError(14, `BSON field 'collation.locale' is the wrong type '${typeof locale}', expected type 'string'`);
  let result: Collation | undefined;
  if (locale === 'simple') {
    if (Object.keys(spec).some((k) => k !== 'locale' && k !== 'version')) throw new DbError(2, "If 'locale' is set to 'simple', no other fields may be set");
    result = undefined;
  } else {
    const tag = locale.replace(/_/g, '-');
    let supported: string[];
    try {
      supported = Intl.Collator.supportedLocalesOf([tag]);
    } catch {
      supported = [];
    }
    if (supported.length === 0 || locale === '') throw new DbError(2, `Field 'locale' is invalid in: { locale: "${locale}" }`);
    const strengthRaw = spec.strength ?? 3;
    const strength = typeof strengthRaw === 'number' ? strengthRaw : Number((strengthRaw as { valueOf(): unknown }).valueOf?.());
    if (!Number.isInteger(strength) || strength < 1 || strength > 5) throw new DbError(2, `Field 'strength' must be an integer 1 through 5. Got: ${String(strengthRaw)}`);
    const caseLevel = bool(spec, 'caseLevel');
    const caseFirst = oneOf(spec, 'caseFirst', ['upper', 'lower', 'off'], 'off');
    const numericOrdering = bool(spec, 'numericOrdering');
    const alternate = oneOf(spec, 'alternate', ['non-ignorable', 'shifted'], 'non-ignorable');
    const maxVariable = oneOf(spec, 'maxVariable', ['punct', 'space'], 'punct');
    const normalization = bool(spec, 'normalization');
    const backwards = bool(spec, 'backwards');
    if (backwards) throw notSupported("collation 'backwards: true' is not supported by the embedded database; use a real MongoDB for it");
    // Strength 1 compares base letters, 2 adds accents, 3 adds case; caseLevel adds case to the lower strengths.
    const sensitivity = strength === 1 ? (caseLevel ? 'case' : 'base') : strength === 2 ? (caseLevel ? 'variant' : 'accent') : 'variant';
    const collator = new Intl.Collator(tag, {
      usage: 'sort',
      sensitivity: sensitivity as Intl.CollatorOptions['sensitivity'],
      caseFirst: (caseFirst === 'off' ? 'false' : caseFirst) as Intl.CollatorOptions['caseFirst'],
      numeric: numericOrdering,
      ignorePunctuation: alternate === 'shifted',
    });
    const normalized = { locale, caseLevel, caseFirst, strength, numericOrdering, alternate, maxVariable, normalization, backwards, version: ICU_VERSION };
    result = { spec: normalized, id: JSON.stringify({ ...normalized, version: undefined }), compare: collator.compare };
  }
  if (cache.size > 1000) cache.clear();
  cache.set(cacheKey, result);
  return result;
}

/** Whether two collations (undefined = simple) are the same. */
export function sameCollation(a: Collation | undefined, b: Collation | undefined): boolean {
  return (a?.id ?? 'simple') === (b?.id ?? 'simple');
}
