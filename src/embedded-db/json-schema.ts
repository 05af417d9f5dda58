// MongoDB's $jsonSchema dialect (draft 4 plus bsonType, no $ref/format/default): parsing, matching, and mongod's errInfo details.
import { Binary, BSONRegExp, Decimal128, Long, ObjectId, Timestamp, type Document } from 'bson';
import { compareBson, equalsBson, isNumeric, typeBracket } from './bson-order.js';
import { DbError } from './errors.js';

/*
 * Why not a JSON Schema library (ajv and the like): MongoDB's dialect types values by BSON type (`bsonType`, and
 * `type: "object"` means an embedded document, not an ObjectId or a Date, which are JS objects too), compares
 * numbers across int/long/double/decimal and refuses draft-4 keywords it does not implement. A bounded matcher of
 * the keywords mongod accepts is smaller than bending a library to all of that.
 */

/** Failing rules of one value, shaped as mongod's `schemaRulesNotSatisfied` entries; empty when the value matches. */
type Check = (value: unknown) => Document[];

const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id']);
const KNOWN = new Set([
  'bsonType', 'type', 'enum', 'required', 'properties', 'additionalProperties', 'patternProperties', 'minProperties', 'maxProperties',
  'dependencies', 'items', 'additionalItems', 'minItems', 'maxItems', 'uniqueItems', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'allOf', 'anyOf', 'oneOf', 'not', 'title', 'description',
]);

const BSON_TYPES = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex', 'dbPointer', 'javascript',
  'symbol', 'javascriptWithScope', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'number',
]);
/** JSON Schema `type` names and the BSON types they cover (`integer` is refused, as in mongod). */
const JSON_TYPES: Record<string, string[]> = {
  object: ['object'],
  array: ['array'],
  string: ['string', 'symbol'],
  number: ['int', 'long', 'double', 'decimal'],
  boolean: ['bool'],
  null: ['null'],
};

const fail = (message: string): never => {
  throw new DbError(9, message);
};

const isPlainObject = (v: unknown): v is Document => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/**
 * BSON type name of a stored value. Documents are decoded with number promotion, so an integral double arrives as a
 * JS number like an int32: integral numbers in the int32 range count as "int", other numbers as "double".
 */
export function bsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? 'int' : 'double';
  if (typeof v === 'bigint' || v instanceof Long) return 'long';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (v instanceof ObjectId) return 'objectId';
  if (v instanceof Decimal128) return 'decimal';
  if (v instanceof Binary) return 'binData';
  if (v instanceof Timestamp) return 'timestamp';
  if (v instanceof RegExp || v instanceof BSONRegExp) return 'regex';
  const t = (v as { _bsontype?: string })._bsontype;
  switch (t) {
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Code':
      return (v as { scope?: unknown }).scope ? 'javascriptWithScope' : 'javascript';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'BSONSymbol':
      return 'symbol';
    case 'DBRef':
      return 'object';
  }
  return 'object';
}

function typeNames(keyword: string, raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) fail(`$jsonSchema keyword '${keyword}' must name at least one type`);
  return list.map((t) => {
    if (typeof t !== 'string') return fail(`$jsonSchema keyword '${keyword}' must be a string or an array of strings`);
    if (keyword === 'type') {
      if (t === 'integer') return fail("$jsonSchema type 'integer' is not currently supported.");
      if (!JSON_TYPES[t]) return fail(`Unknown type name alias: ${t}`);
    } else if (!BSON_TYPES.has(t)) fail(`Unknown type name alias: ${t}`);
    return t;
  });
}

function typeMatches(keyword: string, names: string[], v: unknown): boolean {
  const actual = bsonTypeOf(v);
  return names.some((n) => (keyword === 'type' ? JSON_TYPES[n].includes(actual) : n === actual || (n === 'number' && isNumeric(v))));
}

function nonNegativeInt(keyword: string, v: unknown): number {
  const n = typeof v === 'number' ? v : v instanceof Long ? v.toNumber() : NaN;
  if (!Number.isInteger(n) || n < 0) fail(`$jsonSchema keyword '${keyword}' must be a representable as a long integer`);
  return n;
}

function numberOf(keyword: string, v: unknown): unknown {
  if (!isNumeric(v)) fail(`$jsonSchema keyword '${keyword}' must be a number`);
  return v;
}

function schemaList(keyword: string, v: unknown): Check[] {
  if (!Array.isArray(v) || v.length === 0) fail(`$jsonSchema keyword '${keyword}' must be a nonempty array`);
  return (v as unknown[]).map((s) => compileSchema(s));
}

const stringLength = (s: string): number => Array.from(s).length;

/** Compiles one (sub)schema; throws FailedToParse (9) for what mongod's parser refuses. */
function compileSchema(raw: unknown): Check {
  if (!isPlainObject(raw)) return fail('$jsonSchema must be an object');
  for (const k of Object.keys(raw)) {
    if (UNSUPPORTED.has(k)) fail(`$jsonSchema keyword '${k}' is not currently supported`);
    if (!KNOWN.has(k)) fail(`Unknown $jsonSchema keyword: ${k}`);
  }
  for (const k of ['title', 'description']) {
    if (raw[k] !== undefined && typeof raw[k] !== 'string') throw new DbError(14, `$jsonSchema keyword '${k}' must be of type string`);
  }
  if (raw.type !== undefined && raw.bsonType !== undefined) fail("Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
  const checks: Check[] = [];
  const rule = (name: string, extra: Document = {}): Document => ({ operatorName: name, specifiedAs: { [name]: raw[name] }, ...extra });

  for (const keyword of ['bsonType', 'type'] as const) {
    if (raw[keyword] === undefined) continue;
    const names = typeNames(keyword, raw[keyword]);
    checks.push((v) => (typeMatches(keyword, names, v) ? [] : [rule(keyword, { reason: 'type did not match', consideredValue: v, consideredType: bsonTypeOf(v) })]));
  }
  if (raw.enum !== undefined) {
    const values = raw.enum;
    if (!Array.isArray(values) || values.length === 0) fail("$jsonSchema keyword 'enum' must be a nonempty array");
    checks.push((v) => ((values as unknown[]).some((e) => typeBracket(e) === typeBracket(v) && equalsBson(e, v)) ? [] : [rule('enum', { reason: 'value was not found in enum', consideredValue: v })]));
  }

  // Numbers
  for (const [keyword, exclusiveKey, sign] of [
    ['minimum', 'exclusiveMinimum', 1],
    ['maximum', 'exclusiveMaximum', -1],
  ] as const) {
    const exclusive = raw[exclusiveKey];
    if (exclusive !== undefined && typeof exclusive !== 'boolean') fail(`$jsonSchema keyword '${exclusiveKey}' must be a boolean`);
    if (exclusive !== undefined && raw[keyword] === undefined) fail(`$jsonSchema keyword '${keyword}' must be a present if ${exclusiveKey} is present`);
    if (raw[keyword] === undefined) continue;
    const limit = numberOf(keyword, raw[keyword]);
    checks.push((v) => {
      if (!isNumeric(v)) return [];
      const c = compareBson(v, limit) * sign;
      return c > 0 || (c === 0 && exclusive !== true) ? [] : [rule(keyword, { ...(exclusive !== undefined ? { specifiedAs: { [keyword]: limit, [exclusiveKey]: exclusive } } : {}), reason: 'comparison failed', consideredValue: v })];
    });
  }
  if (raw.multipleOf !== undefined) {
    const m = Number(numberOf('multipleOf', raw.multipleOf));
    if (!(m > 0)) fail("$jsonSchema keyword 'multipleOf' must have a positive value");
    checks.push((v) => (!isNumeric(v) || Number(v) % m === 0 ? [] : [rule('multipleOf', { reason: 'considered value is not a multiple of the specified value', consideredValue: v })]));
  }

  // Strings
  for (const [keyword, sign] of [
    ['minLength', 1],
    ['maxLength', -1],
  ] as const) {
    if (raw[keyword] === undefined) continue;
    const n = nonNegativeInt(keyword, raw[keyword]);
    checks.push((v) => (typeof v !== 'string' || (stringLength(v) - n) * sign >= 0 ? [] : [rule(keyword, { reason: 'specified string length was not satisfied', consideredValue: v })]));
  }
  if (raw.pattern !== undefined) {
    if (typeof raw.pattern !== 'string') fail("$jsonSchema keyword 'pattern' must be a string");
    let re: RegExp;
    try {
      re = new RegExp(raw.pattern as string, 'u');
    } catch (err) {
      return fail(`$jsonSchema keyword 'pattern' is not a valid regular expression: ${(err as Error).message}`);
    }
    checks.push((v) => (typeof v !== 'string' || re.test(v) ? [] : [rule('pattern', { reason: 'regular expression did not match', consideredValue: v })]));
  }

  // Objects
  const properties = new Map<string, Check>();
  if (raw.properties !== undefined) {
    if (!isPlainObject(raw.properties)) fail("$jsonSchema keyword 'properties' must be an object");
    for (const [name, s] of Object.entries(raw.properties as Document)) properties.set(name, compileSchema(s));
    checks.push((v) => {
      if (!isPlainObject(v)) return [];
      const failed: Document[] = [];
      for (const [name, check] of properties) {
        if (!(name in v) || v[name] === undefined) continue;
        const details = check(v[name]);
        if (details.length) failed.push({ propertyName: name, details });
      }
      return failed.length ? [{ operatorName: 'properties', propertiesNotSatisfied: failed }] : [];
    });
  }
  const patterns: [RegExp, Check][] = [];
  if (raw.patternProperties !== undefined) {
    if (!isPlainObject(raw.patternProperties)) fail("$jsonSchema keyword 'patternProperties' must be an object");
    for (const [p, s] of Object.entries(raw.patternProperties as Document)) patterns.push([new RegExp(p, 'u'), compileSchema(s)]);
    checks.push((v) => {
      if (!isPlainObject(v)) return [];
      const failed: Document[] = [];
      for (const [name, value] of Object.entries(v)) {
        for (const [re, check] of patterns) {
          if (!re.test(name)) continue;
          const details = check(value);
          if (details.length) failed.push({ propertyName: name, regexMatched: re.source, details });
        }
      }
      return failed.length ? [{ operatorName: 'patternProperties', details: failed }] : [];
    });
  }
  if (raw.additionalProperties !== undefined) {
    const ap = raw.additionalProperties;
    if (typeof ap !== 'boolean' && !isPlainObject(ap)) fail("$jsonSchema keyword 'additionalProperties' must be either an object or a boolean");
    const extraCheck = typeof ap === 'boolean' ? undefined : compileSchema(ap);
    const isExtra = (name: string): boolean => !properties.has(name) && !patterns.some(([re]) => re.test(name));
    checks.push((v) => {
      if (!isPlainObject(v)) return [];
      const extra = Object.keys(v).filter(isExtra);
      if (ap === false) return extra.length ? [rule('additionalProperties', { additionalProperties: extra })] : [];
      if (!extraCheck) return [];
      const failed = extra.map((name) => ({ propertyName: name, details: extraCheck(v[name]) })).filter((f) => f.details.length);
      return failed.length ? [{ operatorName: 'additionalProperties', specifiedAs: { additionalProperties: ap }, details: failed }] : [];
    });
  }
  if (raw.required !== undefined) {
    const req = raw.required;
    if (!Array.isArray(req) || req.length === 0 || !req.every((r) => typeof r === 'string')) fail("$jsonSchema keyword 'required' must be a nonempty array of strings");
    if (new Set(req as string[]).size !== (req as string[]).length) fail("$jsonSchema keyword 'required' array must not contain duplicate values");
    checks.push((v) => {
      if (!isPlainObject(v)) return [];
      const missing = (req as string[]).filter((name) => !(name in v) || v[name] === undefined);
      return missing.length ? [rule('required', { missingProperties: missing })] : [];
    });
  }
  for (const [keyword, sign] of [
    ['minProperties', 1],
    ['maxProperties', -1],
  ] as const) {
    if (raw[keyword] === undefined) continue;
    const n = nonNegativeInt(keyword, raw[keyword]);
    checks.push((v) => (!isPlainObject(v) || (Object.keys(v).length - n) * sign >= 0 ? [] : [rule(keyword, { reason: 'specified number of properties was not satisfied', numberOfProperties: Object.keys(v).length })]));
  }
  if (raw.dependencies !== undefined) {
    if (!isPlainObject(raw.dependencies)) fail("$jsonSchema keyword 'dependencies' must be an object");
    const deps = Object.entries(raw.dependencies as Document).map(([name, d]) => {
      if (Array.isArray(d)) return { name, fields: d as string[] };
      return { name, schema: compileSchema(d) };
    });
    checks.push((v) => {
      if (!isPlainObject(v)) return [];
      const failed: Document[] = [];
      for (const d of deps) {
        if (!(d.name in v)) continue;
        if (d.fields) {
          const missing = d.fields.filter((f) => !(f in v));
          if (missing.length) failed.push({ conditionalProperty: d.name, missingProperties: missing });
        } else if (d.schema) {
          const details = d.schema(v);
          if (details.length) failed.push({ conditionalProperty: d.name, details });
        }
      }
      return failed.length ? [{ operatorName: 'dependencies', failingDependencies: failed }] : [];
    });
  }

  // Arrays
  if (raw.items !== undefined) {
    const items = raw.items;
    if (Array.isArray(items)) {
      const tuple = items.map((s) => compileSchema(s));
      const additional = raw.additionalItems;
      if (additional !== undefined && typeof additional !== 'boolean' && !isPlainObject(additional)) fail("$jsonSchema keyword 'additionalItems' must be either an object or a boolean");
      const extraCheck = isPlainObject(additional) ? compileSchema(additional) : undefined;
      checks.push((v) => {
        if (!Array.isArray(v)) return [];
        const out: Document[] = [];
        tuple.forEach((check, i) => {
          if (i < v.length && check(v[i]).length) out.push({ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details: check(v[i]) });
        });
        if (additional === false && v.length > tuple.length) out.push(rule('additionalItems', { reason: 'found additional items', additionalItems: v.slice(tuple.length) }));
        if (extraCheck) {
          for (let i = tuple.length; i < v.length; i++) {
            const details = extraCheck(v[i]);
            if (details.length) out.push({ operatorName: 'additionalItems', reason: 'At least one additional item did not match the sub-schema', itemIndex: i, details });
          }
        }
        return out;
      });
    } else {
      const check = compileSchema(items);
      checks.push((v) => {
        if (!Array.isArray(v)) return [];
        for (let i = 0; i < v.length; i++) {
          const details = check(v[i]);
          if (details.length) return [{ operatorName: 'items', reason: 'At least one item did not match the sub-schema', itemIndex: i, details }];
        }
        return [];
      });
    }
  } else if (raw.additionalItems !== undefined && typeof raw.additionalItems !== 'boolean' && !isPlainObject(raw.additionalItems)) {
    fail("$jsonSchema keyword 'additionalItems' must be either an object or a boolean");
  }
  for (const [keyword, sign] of [
    ['minItems', 1],
    ['maxItems', -1],
  ] as const) {
    if (raw[keyword] === undefined) continue;
    const n = nonNegativeInt(keyword, raw[keyword]);
    checks.push((v) => (!Array.isArray(v) || (v.length - n) * sign >= 0 ? [] : [rule(keyword, { reason: 'array did not match specified length', consideredValue: v })]));
  }
  if (raw.uniqueItems !== undefined) {
    if (typeof raw.uniqueItems !== 'boolean') fail("$jsonSchema keyword 'uniqueItems' must be a boolean");
    if (raw.uniqueItems) {
      checks.push((v) => {
        if (!Array.isArray(v)) return [];
        for (let i = 0; i < v.length; i++) {
          for (let j = i + 1; j < v.length; j++) {
            if (typeBracket(v[i]) === typeBracket(v[j]) && compareBson(v[i], v[j]) === 0) return [rule('uniqueItems', { reason: 'found a duplicate item', consideredValue: v, duplicatedValue: v[i] })];
          }
        }
        return [];
      });
    }
  }

  // Logic
  if (raw.allOf !== undefined) {
    const list = schemaList('allOf', raw.allOf);
    checks.push((v) => {
      const failed = list.map((c, i) => ({ index: i, details: c(v) })).filter((f) => f.details.length);
      return failed.length ? [{ operatorName: 'allOf', schemasNotSatisfied: failed }] : [];
    });
  }
  if (raw.anyOf !== undefined) {
    const list = schemaList('anyOf', raw.anyOf);
    checks.push((v) => {
      const results = list.map((c) => c(v));
      return results.some((r) => r.length === 0) ? [] : [{ operatorName: 'anyOf', schemasNotSatisfied: results.map((details, index) => ({ index, details })) }];
    });
  }
  if (raw.oneOf !== undefined) {
    const list = schemaList('oneOf', raw.oneOf);
    checks.push((v) => {
      const results = list.map((c) => c(v));
      const matching = results.flatMap((r, i) => (r.length === 0 ? [i] : []));
      if (matching.length === 1) return [];
      return matching.length === 0 ? [{ operatorName: 'oneOf', schemasNotSatisfied: results.map((details, index) => ({ index, details })) }] : [{ operatorName: 'oneOf', reason: 'more than one subschema matched', matchingSchemaIndexes: matching }];
    });
  }
  if (raw.not !== undefined) {
    const check = compileSchema(raw.not);
    checks.push((v) => (check(v).length === 0 ? [rule('not', { reason: 'child expression matched' })] : []));
  }
  return (v) => {
    const out: Document[] = [];
    for (const c of checks) for (const d of c(v)) out.push(d);
    return out;
  };
}

/** A compiled $jsonSchema: `test` for queries, `explain` for a validator's errInfo. */
export interface JsonSchema {
  test(doc: unknown): boolean;
  /** mongod's `errInfo.details` for a document that fails. */
  explain(doc: unknown): Document;
}

export function compileJsonSchema(schema: unknown): JsonSchema {
  const check = compileSchema(schema);
  return {
    test: (doc) => check(doc).length === 0,
    explain: (doc) => ({ operatorName: '$jsonSchema', schemaRulesNotSatisfied: check(doc) }),
  };
}
