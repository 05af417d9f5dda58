// Command dispatch: validates options and executes every supported command synchronously, so each runs atomically.
import { BSON, Long, ObjectId, type Document } from 'bson';
import { cloneDeep, resolve as resolvePath } from 'mingo/util';
import { ChangeStreams, isChangeStream } from './change-stream.js';
import { CursorManager } from './cursors.js';
import { currentOperation, SessionRegistry, validateCollection } from './diagnostics.js';
import { DbError, ErrorCodes, badValue, notSupported, toDbError } from './errors.js';
import { compareBson } from './bson-order.js';
import { parseCollation, sameCollation, type Collation } from './collation.js';
import { compileJsonSchema } from './json-schema.js';
import { canonicalKey } from './keys.js';
import { collationClasses, compileQuery, evaluateLet, runPipeline, sortDocuments } from './mingo.js';
import { HINT_ERROR, describePlan, planQuery, runQuery, type QueryStats } from './planner.js';
import { Collection, Store, validateNamespace } from './store.js';
import { computeUpdate, computeUpsert, validateStoredDoc, validateUpdateShape, type UpdateSpec } from './update.js';
import { saslContinue, saslStart, type AuthState, type ScramUser } from './scram.js';
import { MAX_BSON_SIZE, MAX_MESSAGE_SIZE } from './wire.js';

export interface ServerInfo {
  /** host:port advertised in hello (must be what clients dial). */
  address: string;
  setName: string;
  startedAt: Date;
  /** The user the server was started with: when set, every command but the handshake needs SCRAM-SHA-256 first. */
  users?: ScramUser;
}

export interface ConnectionInfo {
  id: number;
  auth?: AuthState;
}

export class CommandContext {
  readonly cursors = new CursorManager();
  readonly sessions = new SessionRegistry();
  readonly electionId = new ObjectId('7fffffff0000000000000001');

  readonly changeStreams: ChangeStreams;

  constructor(
    readonly store: Store,
    readonly info: ServerInfo,
  ) {
    this.changeStreams = new ChangeStreams(store);
  }
}

type Handler = (ctx: CommandContext, cmd: Document, db: string, conn: ConnectionInfo) => Document;

/** Fields any command may carry; drivers add them and they do not change the result on a single node. */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  'txnNumber',
  '$clusterTime',
  '$readPreference',
  'readConcern',
  'writeConcern',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'comment',
  'maxTimeMS',
  '$audit',
  '$client',
  'mayBypassWriteBlocking',
]);

interface CommandDef {
  handler: Handler;
  /** Options accepted (beyond the generic ones). */
  allowed?: string[];
  /** Options that would change semantics we do not implement: refused with code 115. */
  refused?: string[];
  /** Writes are deduplicated by lsid + txnNumber when retried. */
  retryable?: boolean;
  /** Handshake commands: drivers add new fields over time and mongod ignores unknown ones here. */
  lenient?: boolean;
}

const optionSets = new WeakMap<CommandDef, { allowed: Set<string>; refused: Set<string> }>();

function checkOptions(name: string, def: CommandDef, cmd: Document): void {
  if (def.lenient) return;
  let sets = optionSets.get(def);
  if (!sets) {
    sets = { allowed: new Set(def.allowed ?? []), refused: new Set(def.refused ?? []) };
    optionSets.set(def, sets);
  }
  let first = true;
  for (const k in cmd) {
    if (first) {
      first = false;
      continue;
    }
    if (GENERIC_FIELDS.has(k) || sets.allowed.has(k)) continue;
    if (sets.refused.has(k)) throw notSupported(`The embedded database does not support the '${k}' option of '${name}'; use a real MongoDB for it`);
    throw new DbError(40415, `BSON field '${name}.${k}' is an unknown field.`);
  }
}

const asNumber = (v: unknown): number | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (v instanceof Long) return v.toNumber();
  if (typeof v === 'object' && v && 'valueOf' in v) return Number((v as { valueOf(): unknown }).valueOf());
  throw new DbError(14, `Expected a number but got ${typeof v}`);
};

function collName(cmd: Document, name: string): string {
  const v = cmd[name];
  if (typeof v !== 'string' || v === '') throw new DbError(73, `Invalid namespace specified for '${name}'`);
  return v;
}

function asDoc(v: unknown, what: string): Document {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new DbError(14, `BSON field '${what}' is the wrong type '${Array.isArray(v) ? 'array' : typeof v}', expected type 'object'`);
  return v as Document;
}

/** A replacement-style update (a document without operators): its change event is a `replace`. */
const isReplacement = (u: Document | Document[]): boolean => !Array.isArray(u) && !Object.keys(u)[0]?.startsWith('$');

/** The collation a command runs with: its own `collation`, else the collection's default (undefined: simple). */
function collationOf(raw: unknown, coll: Collection | undefined): Collation | undefined {
  if (raw !== undefined && raw !== null) return parseCollation(raw);
  return coll?.collation;
}

/** Applies sort/skip/limit/projection to candidate documents that are already known to match (sort by mongod's BSON order). */
function shape(docs: Document[], opts: { sort?: Document; skip?: number; limit?: number; projection?: Document; variables?: Document; collation?: Collation }): Document[] {
  let out = docs;
  if (opts.sort && Object.keys(opts.sort).length) out = sortDocuments(out, opts.sort, opts.collation?.compare);
  if (opts.skip) out = out.slice(opts.skip);
  if (opts.limit) out = out.slice(0, opts.limit);
  if (opts.projection && Object.keys(opts.projection).length > 0) out = compileQuery({}, opts.variables).find<Document>(out, opts.projection).all();
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Handshake and server info

function hello(ctx: CommandContext, cmd: Document, _db: string, conn: ConnectionInfo): Document {
  const legacy = 'isMaster' in cmd || 'ismaster' in cmd;
  const now = new Date();
  const auth: Document = {};
  const users = ctx.info.users;
  if (users && typeof cmd.saslSupportedMechs === 'string' && cmd.saslSupportedMechs === `admin.${users.user}`) auth.saslSupportedMechs = ['SCRAM-SHA-256'];
  const speculative = cmd.speculativeAuthenticate as Document | undefined;
  if (speculative && typeof speculative === 'object' && speculative.saslStart) {
    // The driver's first SCRAM step rides on the handshake (one round trip saved); on any problem mongod just
    // leaves the answer out and the driver runs saslStart itself.
    try {
      const { ok: _ok, ...first } = saslStart(users, (conn.auth ??= {}), speculative, typeof speculative.db === 'string' ? speculative.db : 'admin');
      auth.speculativeAuthenticate = first;
    } catch {
      // answered without it
    }
  }
  return {
    ...auth,
    ...(cmd.helloOk ? { helloOk: true } : {}),
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    secondary: false,
    setName: ctx.info.setName,
    setVersion: 1,
    hosts: [ctx.info.address],
    primary: ctx.info.address,
    me: ctx.info.address,
    electionId: ctx.electionId,
    lastWrite: { lastWriteDate: now, majorityWriteDate: now },
    maxBsonObjectSize: MAX_BSON_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: 100_000,
    localTime: now,
    logicalSessionTimeoutMinutes: 30,
    connectionId: conn.id,
    minWireVersion: 0,
    // 25 = MongoDB 8.0: the version whose features (client bulkWrite, sort on updateOne) this server implements.
    maxWireVersion: 25,
    readOnly: false,
    ok: 1,
  };
}

const SERVER_VERSION = '8.0.0';

function buildInfo(): Document {
  return {
    version: SERVER_VERSION,
    gitVersion: 'embedded',
    versionArray: [8, 0, 0, 0],
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_SIZE,
    storageEngines: ['embedded-memory'],
    modules: [],
    ok: 1,
  };
}

function getParameter(_ctx: CommandContext, cmd: Document): Document {
  const out: Document = {};
  if (cmd.featureCompatibilityVersion !== undefined || cmd.getParameter === '*') out.featureCompatibilityVersion = { version: '8.0' };
  if (cmd.authenticationMechanisms !== undefined || cmd.getParameter === '*') out.authenticationMechanisms = ['SCRAM-SHA-256'];
  return { ...out, ok: 1 };
}

function serverStatus(ctx: CommandContext): Document {
  return {
    host: ctx.info.address,
    version: SERVER_VERSION,
    process: 'embedded-db',
    pid: Long.fromNumber(process.pid),
    uptime: (Date.now() - ctx.info.startedAt.getTime()) / 1000,
    localTime: new Date(),
    ok: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

interface WriteOutcome {
  n: number;
  nModified?: number;
  upserted?: Document[];
  writeErrors: Document[];
}

function writeError(index: number, err: unknown): Document {
  const e = toDbError(err);
  return { index, code: e.code, codeName: e.codeName, errmsg: e.message, ...(e.extra ?? {}) };
}

function writeReply(out: WriteOutcome): Document {
  const reply: Document = { n: out.n };
  if (out.nModified !== undefined) reply.nModified = out.nModified;
  if (out.upserted && out.upserted.length) reply.upserted = out.upserted;
  if (out.writeErrors.length) reply.writeErrors = out.writeErrors;
  reply.ok = 1;
  return reply;
}

/**
 * A collection's validator (a query), as mongod applies it: strict checks every insert and update, moderate
 * skips updates of documents that already failed it, off and bypassDocumentValidation skip it; with
 * validationAction "warn" a failing document is still written.
 */
function checkValidator(coll: Collection, doc: Document, before: Document | undefined, bypass: boolean): void {
  const validator = coll.options.validator as Document | undefined;
  if (!validator || bypass) return;
  const level = coll.options.validationLevel ?? 'strict';
  if (level === 'off') return;
  // The validator compares strings by the collection's default collation, as mongod's does.
  const query = compileQuery(validator, undefined, coll.collation);
  if (query.test(doc)) return;
  if (level === 'moderate' && before && !query.test(before)) return;
  if (coll.options.validationAction === 'warn') return;
  throw new DbError(121, 'Document failed validation', { errInfo: { failingDocumentId: doc._id, details: validationDetails(validator, doc, coll.collation) } });
}

/**
 * mongod's errInfo.details: a $jsonSchema clause says which rules failed; query clauses are only named (mongod
 * details each operator, this server does not).
 */
function validationDetails(validator: Document, doc: Document, collation: Collation | undefined): Document {
  const clauses = Object.entries(validator).map(([k, v]) => ({ k, v }));
  const explain = ({ k, v }: { k: string; v: unknown }): Document | undefined => {
    if (k === '$jsonSchema') {
      const schema = compileJsonSchema(v);
      return schema.test(doc) ? undefined : schema.explain(doc);
    }
    return compileQuery({ [k]: v }, undefined, collation).test(doc) ? undefined : { operatorName: k.startsWith('$') ? k : '$eq', specifiedAs: { [k]: v } };
  };
  if (clauses.length === 1) return explain(clauses[0]) ?? { operatorName: '$and', clausesNotSatisfied: [] };
  const failed = clauses.flatMap((c, index) => {
    const details = explain(c);
    return details ? [{ index, details }] : [];
  });
  return { operatorName: '$and', clausesNotSatisfied: failed };
}

function insertDocument(coll: Collection, raw: unknown, bypass = false): Document {
  let doc = asDoc(raw, 'documents');
  if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
  validateStoredDoc(doc, 'insert');
  checkValidator(coll, doc, undefined, bypass);
  coll.insert(doc);
  return doc;
}

function insert(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'insert');
  const docs = cmd.documents;
  if (!Array.isArray(docs)) throw new DbError(40414, "BSON field 'insert.documents' is missing but a required field");
  const ordered = cmd.ordered !== false;
  const coll = ctx.store.ensureCollection(db, name);
  const out: WriteOutcome = { n: 0, writeErrors: [] };
  for (let i = 0; i < docs.length; i++) {
    try {
      insertDocument(coll, docs[i], cmd.bypassDocumentValidation === true);
      out.n++;
    } catch (err) {
      out.writeErrors.push(writeError(i, err));
      if (ordered) break;
    }
  }
  return writeReply(out);
}

const UPDATE_STATEMENT_FIELDS = new Set(['q', 'u', 'upsert', 'multi', 'arrayFilters', 'hint', 'c', 'sort', 'collation', 'upsertSupplied']);

function updateStatement(coll: Collection, stmt: Document, bypass = false): { n: number; nModified: number; upsertedId?: unknown } {
  for (const k in stmt) if (!UPDATE_STATEMENT_FIELDS.has(k)) throw new DbError(40415, `BSON field 'update.updates.${k}' is an unknown field.`);
  const collation = collationOf(stmt.collation, coll);
  if (stmt.u === undefined || stmt.u === null || typeof stmt.u !== 'object') throw new DbError(9, 'update statement requires a u field of type object or array');
  const spec: UpdateSpec = {
    filter: asDoc(stmt.q, 'q'),
    update: stmt.u as Document | Document[],
    arrayFilters: stmt.arrayFilters as Document[] | undefined,
    variables: stmt.c as Document | undefined,
    collation,
  };
  const multi = stmt.multi === true;
  if (multi && !Array.isArray(stmt.u) && !Object.keys(stmt.u as Document)[0]?.startsWith('$') && Object.keys(stmt.u as Document).length > 0) {
    throw new DbError(9, 'multi update is not supported for replacement-style update');
  }
  let matched = coll.find(spec.filter, multi || stmt.sort ? 0 : 1, spec.variables, stmt.hint, collation);
  if (stmt.sort && !multi) matched = shape(matched, { sort: stmt.sort as Document, limit: 1, collation });
  if (matched.length === 0) {
    if (stmt.upsert !== true) {
      // Validate the update even when nothing matches, so bad operators fail like in mongod.
      validateUpdateShape(spec.update);
      return { n: 0, nModified: 0 };
    }
    const doc = computeUpsert(spec);
    checkValidator(coll, doc, undefined, bypass);
    coll.insert(doc);
    return { n: 1, nModified: 0, upsertedId: doc._id };
  }
  let nModified = 0;
  for (const doc of matched) {
    const { doc: next, changed } = computeUpdate(doc, spec);
    if (!changed) continue;
    checkValidator(coll, next, doc, bypass);
    coll.replace(doc, next, isReplacement(spec.update));
    nModified++;
  }
  return { n: matched.length, nModified };
}

function update(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'update');
  const stmts = cmd.updates;
  if (!Array.isArray(stmts)) throw new DbError(40414, "BSON field 'update.updates' is missing but a required field");
  const ordered = cmd.ordered !== false;
  const out: WriteOutcome = { n: 0, nModified: 0, upserted: [], writeErrors: [] };
  const letVars = evaluateLet(cmd.let);
  for (let i = 0; i < stmts.length; i++) {
    try {
      const stmt = asDoc(stmts[i], 'updates');
      const coll = ctx.store.getCollection(db, name) ?? (stmt.upsert ? ctx.store.ensureCollection(db, name) : undefined);
      if (!coll) {
        updateStatement(new Collection(db, name), stmt);
        continue;
      }
      const r = updateStatement(coll, letVars ? { ...stmt, c: { ...letVars, ...((stmt.c as Document) ?? {}) } } : stmt, cmd.bypassDocumentValidation === true);
      out.n += r.n;
      out.nModified! += r.nModified;
      if (r.upsertedId !== undefined) out.upserted!.push({ index: i, _id: r.upsertedId });
    } catch (err) {
      out.writeErrors.push(writeError(i, err));
      if (ordered) break;
    }
  }
  return writeReply(out);
}

function deleteStatement(coll: Collection | undefined, filter: Document, justOne: boolean, stmt: Document, letVars: Document | undefined): number {
  const matched = coll ? coll.find(filter, justOne ? 1 : 0, letVars, stmt.hint, collationOf(stmt.collation, coll)) : [];
  for (const doc of matched) coll!.remove(doc);
  return matched.length;
}

function del(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'delete');
  const stmts = cmd.deletes;
  if (!Array.isArray(stmts)) throw new DbError(40414, "BSON field 'delete.deletes' is missing but a required field");
  const ordered = cmd.ordered !== false;
  const out: WriteOutcome = { n: 0, writeErrors: [] };
  const coll = ctx.store.getCollection(db, name);
  const letVars = evaluateLet(cmd.let);
  for (let i = 0; i < stmts.length; i++) {
    try {
      const stmt = asDoc(stmts[i], 'deletes');
      for (const k of Object.keys(stmt)) {
        if (!['q', 'limit', 'hint', 'collation'].includes(k)) throw new DbError(40415, `BSON field 'delete.deletes.${k}' is an unknown field.`);
      }
      const limit = asNumber(stmt.limit) ?? 0;
      if (limit !== 0 && limit !== 1) throw new DbError(9, `The limit field in delete objects must be 0 or 1. Got ${limit}`);
      out.n += deleteStatement(coll, asDoc(stmt.q, 'q'), limit === 1, stmt, letVars);
    } catch (err) {
      out.writeErrors.push(writeError(i, err));
      if (ordered) break;
    }
  }
  return writeReply(out);
}

function findAndModify(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = typeof cmd.findAndModify === 'string' ? cmd.findAndModify : collName(cmd, 'findandmodify');
  const filter = asDoc(cmd.query, 'query');
  const remove = cmd.remove === true;
  if (remove && cmd.update !== undefined) throw new DbError(9, 'Cannot specify both an update and remove=true');
  if (!remove && (cmd.update === undefined || cmd.update === null)) throw new DbError(9, 'Either an update or remove=true must be specified');
  if (remove && cmd.upsert === true) throw new DbError(9, 'Cannot specify both upsert=true and remove=true');
  const variables = evaluateLet(cmd.let);
  const coll = ctx.store.getCollection(db, name) ?? (cmd.upsert === true ? ctx.store.ensureCollection(db, name) : undefined);
  const project = (doc: Document | null): Document | null => {
    if (!doc || !cmd.fields || Object.keys(cmd.fields as Document).length === 0) return doc;
    return shape([doc], { projection: cmd.fields as Document, variables })[0] ?? null;
  };
  let target: Document | undefined;
  const collation = collationOf(cmd.collation, coll);
  if (coll) {
    const matched = cmd.sort
      ? shape(coll.find(filter, 0, variables, cmd.hint, collation), { sort: cmd.sort as Document, limit: 1, collation })
      : coll.find(filter, 1, variables, cmd.hint, collation);
    target = matched[0];
  }
  if (remove) {
    if (target) coll!.remove(target);
    return { lastErrorObject: { n: target ? 1 : 0 }, value: project(target ?? null), ok: 1 };
  }
  const spec: UpdateSpec = { filter, update: cmd.update as Document, arrayFilters: cmd.arrayFilters as Document[] | undefined, variables, collation };
  if (!target) {
    if (cmd.upsert !== true || !coll) {
      validateUpdateShape(spec.update);
      return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
    }
    const doc = computeUpsert(spec);
    checkValidator(coll, doc, undefined, cmd.bypassDocumentValidation === true);
    coll.insert(doc);
    return { lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id }, value: cmd.new === true ? project(doc) : null, ok: 1 };
  }
  const { doc: next, changed } = computeUpdate(target, spec);
  if (changed) {
    checkValidator(coll!, next, target, cmd.bypassDocumentValidation === true);
    coll!.replace(target, next, isReplacement(spec.update));
  }
  return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(cmd.new === true ? next : target), ok: 1 };
}

/** MongoDB 8.0's client-level bulkWrite: inserts, updates and deletes across namespaces in one command (what `client.bulkWrite` sends). */
function bulkWrite(ctx: CommandContext, cmd: Document, db: string): Document {
  if (db !== 'admin') throw new DbError(13, 'bulkWrite may only be run against the admin database.');
  const ops = cmd.ops;
  const nsInfo = cmd.nsInfo;
  if (!Array.isArray(ops)) throw new DbError(40414, "BSON field 'bulkWrite.ops' is missing but a required field");
  if (!Array.isArray(nsInfo) || nsInfo.length === 0) throw new DbError(40414, "BSON field 'bulkWrite.nsInfo' is missing but a required field");
  const namespaces = nsInfo.map((info) => {
    const ns = String(asDoc(info, 'nsInfo').ns ?? '');
    const dot = ns.indexOf('.');
    if (dot <= 0) throw new DbError(73, `Invalid namespace specified '${ns}'`);
    const nsDb = ns.slice(0, dot);
    const nsColl = ns.slice(dot + 1);
    validateNamespace(nsDb, nsColl);
    return { db: nsDb, coll: nsColl };
  });
  const ordered = cmd.ordered !== false;
  const errorsOnly = cmd.errorsOnly === true;
  const letVars = evaluateLet(cmd.let);
  const totals = { nErrors: 0, nInserted: 0, nMatched: 0, nModified: 0, nUpserted: 0, nDeleted: 0 };
  const results: Document[] = [];
  for (let idx = 0; idx < ops.length; idx++) {
    const op = asDoc(ops[idx], 'ops');
    try {
      const kind = Object.keys(op)[0];
      const target = namespaces[asNumber(op[kind]) ?? -1];
      if (!target) throw new DbError(2, `BulkWrite ops entry ${idx} has an invalid nsInfo index`);
      if (kind === 'insert') {
        insertDocument(ctx.store.ensureCollection(target.db, target.coll), op.document, cmd.bypassDocumentValidation === true);
        totals.nInserted++;
        if (!errorsOnly) results.push({ ok: 1, idx, n: 1 });
      } else if (kind === 'update') {
        const stmt: Document = { q: op.filter, u: op.updateMods, multi: op.multi === true, upsert: op.upsert === true };
        for (const k of ['arrayFilters', 'hint', 'sort', 'collation'] as const) if (op[k] !== undefined) stmt[k] = op[k];
        if (letVars || op.constants) stmt.c = { ...letVars, ...((op.constants as Document) ?? {}) };
        const coll = ctx.store.getCollection(target.db, target.coll) ?? (stmt.upsert ? ctx.store.ensureCollection(target.db, target.coll) : new Collection(target.db, target.coll));
        const r = updateStatement(coll, stmt, cmd.bypassDocumentValidation === true);
        totals.nMatched += r.upsertedId === undefined ? r.n : 0;
        totals.nModified += r.nModified;
        if (r.upsertedId !== undefined) totals.nUpserted++;
        if (!errorsOnly) results.push({ ok: 1, idx, n: r.n, nModified: r.nModified, ...(r.upsertedId !== undefined ? { upserted: { _id: r.upsertedId } } : {}) });
      } else if (kind === 'delete') {
        const n = deleteStatement(ctx.store.getCollection(target.db, target.coll), asDoc(op.filter, 'filter'), op.multi !== true, op, letVars);
        totals.nDeleted += n;
        if (!errorsOnly) results.push({ ok: 1, idx, n });
      } else {
        throw new DbError(40415, `BSON field 'bulkWrite.ops.${kind}' is an unknown field.`);
      }
    } catch (err) {
      const e = toDbError(err);
      totals.nErrors++;
      results.push({ ok: 0, idx, code: e.code, codeName: e.codeName, errmsg: e.message, ...(e.extra ?? {}) });
      if (ordered) break;
    }
  }
  const reply = ctx.cursors.open('admin.$cmd.bulkWrite', results, undefined);
  return { cursor: reply.cursor, ...totals, ok: 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

function find(ctx: CommandContext, cmd: Document, db: string, conn: ConnectionInfo): Document {
  const name = collName(cmd, 'find');
  validateNamespace(db, name);
  if (cmd.tailable || cmd.awaitData) throw notSupported('tailable cursors are not supported by the embedded database');
  const filter = asDoc(cmd.filter, 'filter');
  const limitRaw = asNumber(cmd.limit) ?? 0;
  const batchSize = asNumber(cmd.batchSize);
  if (batchSize !== undefined && batchSize < 0) throw new DbError(51024, `BSON field 'batchSize' value must be >= 0, actual value '${batchSize}'`);
  const skip = asNumber(cmd.skip) ?? 0;
  if (skip < 0) throw badValue('skip value must be non-negative');
  const singleBatch = cmd.singleBatch === true || limitRaw < 0;
  const limit = Math.abs(limitRaw);
  const coll = ctx.store.getCollection(db, name);
  const variables = evaluateLet(cmd.let);
  const ns = `${db}.${name}`;
  const firstBatchSize = singleBatch && limit ? Math.max(limit, batchSize ?? 0) : batchSize;
  const collation = collationOf(cmd.collation, coll);
  if (!coll) {
    compileQuery(filter); // surfaces bad operators (and a bad collation, above) even when the collection does not exist
    if (isHint(cmd.hint) && !isNaturalHint(cmd.hint)) throw new DbError(2, HINT_ERROR);
    return ctx.cursors.open(ns, [], firstBatchSize, singleBatch);
  }
  const sort = cmd.sort as Document | undefined;
  const projection = cmd.projection as Document | undefined;
  const plan = planQuery(coll, filter, sort, cmd.hint, collation);
  const matches = runQuery(coll, filter, { variables, plan, collation });
  if (sort && Object.keys(sort).length && !plan.providesSort) {
    const docs = shape(Array.from(matches), { sort, skip, limit, projection, variables, collation });
    return ctx.cursors.open(ns, docs, firstBatchSize, singleBatch, conn.id);
  }
  // No in-memory sort needed: stream, so a limit or the first batch stops the scan early.
  const hasProjection = projection && Object.keys(projection).length > 0;
  return ctx.cursors.openStream(ns, limited(matches, skip, limit), firstBatchSize, singleBatch, {
    connection: conn.id,
    transform: hasProjection ? (docs) => compileQuery({}, variables).find<Document>(docs, projection).all() : undefined,
  });
}

function* limited(source: Iterator<Document>, skip: number, limit: number): Generator<Document> {
  let skipped = 0;
  let taken = 0;
  for (let next = source.next(); !next.done; next = source.next()) {
    if (skipped < skip) {
      skipped++;
      continue;
    }
    yield next.value;
    if (limit && ++taken >= limit) return;
  }
}

const isHint = (h: unknown): boolean => h !== undefined && h !== null && h !== '' && !(typeof h === 'object' && Object.keys(h as Document).length === 0);
const isNaturalHint = (h: unknown): boolean => typeof h === 'object' && h !== null && '$natural' in (h as Document);

function getMore(ctx: CommandContext, cmd: Document, db: string): Document {
  const id = asNumber(cmd.getMore) ?? 0;
  const coll = collName(cmd, 'collection');
  if (ctx.changeStreams.owns(id)) return ctx.changeStreams.getMore(id, `${db}.${coll}`, asNumber(cmd.batchSize), asNumber(cmd.maxTimeMS));
  return ctx.cursors.getMore(id, `${db}.${coll}`, asNumber(cmd.batchSize));
}

function killCursors(ctx: CommandContext, cmd: Document): Document {
  const ids = Array.isArray(cmd.cursors) ? (cmd.cursors as unknown[]).map((v) => asNumber(v) ?? 0) : [];
  return ctx.changeStreams.killCursors(ids, (others) => ctx.cursors.kill(others));
}

/**
 * explain of find / count / distinct / aggregate (its leading $match) / update / delete / findAndModify: the plan
 * the command would use, and with executionStats the keys and documents it examined.
 */
function explain(ctx: CommandContext, cmd: Document, db: string): Document {
  const inner = asDoc(cmd.explain, 'explain');
  const verbosity = typeof cmd.verbosity === 'string' ? cmd.verbosity : 'allPlansExecution';
  if (!['queryPlanner', 'executionStats', 'allPlansExecution'].includes(verbosity)) throw new DbError(2, `verbosity string must be one of {'queryPlanner', 'executionStats', 'allPlansExecution'}`);
  const kind = Object.keys(inner)[0];
  const target = inner[kind];
  let filter: Document = {};
  let sort: Document | undefined;
  let hint: unknown;
  let skip = 0;
  let limit = 0;
  switch (kind) {
    case 'find':
      filter = asDoc(inner.filter, 'filter');
      sort = inner.sort as Document | undefined;
      hint = inner.hint;
      skip = asNumber(inner.skip) ?? 0;
      limit = Math.abs(asNumber(inner.limit) ?? 0);
      break;
    case 'count':
    case 'distinct':
      filter = asDoc(inner.query, 'query');
      hint = inner.hint;
      break;
    case 'aggregate': {
      const first = Array.isArray(inner.pipeline) ? (inner.pipeline as Document[])[0] : undefined;
      if (first && first.$match) filter = asDoc(first.$match, '$match');
      hint = inner.hint;
      break;
    }
    case 'update':
    case 'delete': {
      const stmt = asDoc(((kind === 'update' ? inner.updates : inner.deletes) as Document[] | undefined)?.[0], kind);
      filter = asDoc(stmt.q, 'q');
      hint = stmt.hint;
      break;
    }
    case 'findAndModify':
    case 'findandmodify':
      filter = asDoc(inner.query, 'query');
      sort = inner.sort as Document | undefined;
      hint = inner.hint;
      break;
    default:
      throw new DbError(2, `Explain failed due to unknown command: ${kind}`);
  }
  if (typeof target !== 'string') throw new DbError(73, `Invalid namespace specified for '${kind}'`);
  const ns = `${db}.${target}`;
  const coll = ctx.store.getCollection(db, target);
  const started = performance.now();
  const stats: QueryStats = { keysExamined: 0, docsExamined: 0 };
  let winningPlan: Document = { stage: 'EOF' };
  let nReturned = 0;
  if (coll) {
    const collation = collationOf(inner.collation ?? (((kind === 'update' ? inner.updates : inner.deletes) as Document[] | undefined)?.[0] as Document | undefined)?.collation, coll);
    const plan = planQuery(coll, filter, sort, hint, collation);
    winningPlan = describePlan(plan, filter, { sort, skip, limit });
    if (verbosity !== 'queryPlanner') {
      const matches = runQuery(coll, filter, { plan, stats, variables: evaluateLet(inner.let), collation });
      if (sort && Object.keys(sort).length && !plan.providesSort) nReturned = shape(Array.from(matches), { sort, skip, limit, collation }).length;
      else for (const _doc of limited(matches, skip, limit)) nReturned++;
    }
  } else if (isHint(hint) && !isNaturalHint(hint)) throw new DbError(2, HINT_ERROR);
  const reply: Document = {
    explainVersion: '1',
    queryPlanner: { namespace: ns, parsedQuery: filter, indexFilterSet: false, planCacheShapeHash: '00000000', maxIndexedOrSolutionsReached: false, winningPlan, rejectedPlans: [] },
  };
  if (verbosity !== 'queryPlanner') {
    reply.executionStats = {
      executionSuccess: true,
      nReturned,
      executionTimeMillis: Math.round(performance.now() - started),
      totalKeysExamined: stats.keysExamined,
      totalDocsExamined: stats.docsExamined,
      executionStages: { ...winningPlan, nReturned, keysExamined: stats.keysExamined, docsExamined: stats.docsExamined },
    };
  }
  reply.command = inner;
  reply.serverInfo = { host: ctx.info.address, port: Number(ctx.info.address.split(':').pop()), version: SERVER_VERSION, gitVersion: 'embedded' };
  reply.ok = 1;
  return reply;
}

const REFUSED_STAGES = new Set(['$changeStream', '$listSessions', '$planCacheStats', '$search', '$vectorSearch', '$geoNear', '$text']);

const FIRST_ONLY_STAGES = new Set(['$collStats', '$indexStats', '$currentOp', '$listLocalSessions']);

function aggregate(ctx: CommandContext, cmd: Document, db: string, conn?: ConnectionInfo): Document {
  if (isChangeStream(cmd.pipeline) && !cmd.explain) return ctx.changeStreams.open(cmd, db, conn?.id);
  const target = cmd.aggregate;
  if (cmd.explain) {
    const { explain: _flag, cursor: _cursor, ...inner } = cmd;
    return explain(ctx, { explain: inner, verbosity: 'queryPlanner' }, db);
  }
  const pipeline = cmd.pipeline;
  if (!Array.isArray(pipeline)) throw new DbError(14, "'pipeline' option must be specified as an array");
  if (!cmd.cursor || typeof cmd.cursor !== 'object') throw new DbError(9, "The 'cursor' option is required, except for aggregate with the explain argument");
  for (const stage of pipeline as Document[]) {
    const op = Object.keys(stage ?? {})[0];
    if (REFUSED_STAGES.has(op)) throw notSupported(`${op} is not supported by the embedded database; use a real MongoDB for it`);
  }
  const variables = evaluateLet(cmd.let);
  let input: Document[] = [];
  let stages = pipeline as Document[];
  let name = '$cmd.aggregate';
  // $out / $merge write the pipeline's output instead of returning it; only as the last stage, as in mongod.
  let writeStage: Document | undefined;
  stages.forEach((stage, i) => {
    const op = Object.keys(stage ?? {})[0];
    if (op !== '$out' && op !== '$merge') return;
    if (i !== stages.length - 1) throw new DbError(40601, `${op} can only be the final stage in the pipeline`);
    writeStage = stage;
  });
  if (writeStage) stages = stages.slice(0, -1);
  // $collStats / $indexStats describe the collection instead of reading it; they must come first, as in mongod.
  for (let i = 1; i < stages.length; i++) {
    const op = Object.keys(stages[i] ?? {})[0];
    if (FIRST_ONLY_STAGES.has(op)) throw new DbError(40602, `${op} is only valid as the first stage in a pipeline`);
  }
  const firstOp = Object.keys(stages[0] ?? {})[0];
  // $currentOp / $listLocalSessions describe the server: collection-less ({aggregate: 1}), $currentOp on admin only.
  if (firstOp === '$currentOp' || firstOp === '$listLocalSessions') {
    if (target !== 1) throw new DbError(73, `${firstOp} must be run against the 'admin' database with {aggregate: 1}`);
    if (firstOp === '$currentOp' && db !== 'admin') throw new DbError(73, "$currentOp must be run against the 'admin' database with {aggregate: 1}");
    const spec = asDoc(stages[0][firstOp], firstOp);
    input =
      firstOp === '$currentOp'
        ? [currentOperation(ctx.info.address, conn?.id ?? 0, db, cmd)]
        : ctx.sessions.list(conn?.auth?.user, spec.allUsers === true);
    const rest = stages.slice(1);
    const docs = rest.length ? runPipeline(input, rest, variables, { processingMode: 1 }) : input;
    return ctx.cursors.open(`${db}.$cmd.aggregate`, docs, asNumber((cmd.cursor as Document).batchSize));
  }
  if ((firstOp === '$collStats' || firstOp === '$indexStats') && typeof target === 'string') {
    input = firstOp === '$collStats' ? [collStatsStage(ctx, db, target, asDoc(stages[0].$collStats, '$collStats'))] : indexStatsStage(ctx, db, target);
    const rest = stages.slice(1);
    const docs = rest.length ? runPipeline(input, rest, variables, { processingMode: 1 }) : input;
    return ctx.cursors.open(`${db}.${target}`, docs, asNumber((cmd.cursor as Document).batchSize));
  }
  let collation = collationOf(cmd.collation, undefined);
  if (typeof target === 'string') {
    name = target;
    const coll = ctx.store.getCollection(db, target);
    collation = collationOf(cmd.collation, coll);
    if (coll) {
      // A leading $match uses the same lookups as find, and limits what must be cloned for the pipeline.
      if (stages.length && stages[0].$match && typeof stages[0].$match === 'object') {
        input = coll.find(stages[0].$match as Document, 0, variables, undefined, collation);
        stages = stages.slice(1);
      } else input = coll.all();
    }
  } else if (target !== 1) {
    throw new DbError(73, 'aggregate requires a collection name or 1');
  }
  const docs = stages.length
    ? runPipeline(input, stages, variables, {
        // Stages such as $addFields may write into nested objects of their input, so stored snapshots are cloned.
        processingMode: 1,
        // Joined documents land inside results that later stages may modify, so they are copies too.
        collectionResolver: (other: string) => (ctx.store.getCollection(db, other)?.all() ?? []).map((d) => cloneDeep(d) as Document),
      }, collation)
    : input;
  if (writeStage) {
    writeOutput(ctx, db, writeStage, docs, variables);
    return ctx.cursors.open(`${db}.${name}`, [], 0);
  }
  const batchSize = asNumber((cmd.cursor as Document).batchSize);
  return ctx.cursors.open(`${db}.${name}`, docs, batchSize);
}

function outputNamespace(spec: unknown, db: string, stage: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db, coll: spec };
  const d = asDoc(spec, stage);
  const coll = d.coll ?? d.collection;
  if (typeof coll !== 'string') throw new DbError(2, `${stage} needs a collection name`);
  return { db: typeof d.db === 'string' ? d.db : db, coll };
}

/** $out replaces the target atomically (its indexes kept; nothing changes on a duplicate key); $merge upserts by `on`. */
function writeOutput(ctx: CommandContext, db: string, stage: Document, docs: Document[], variables: Document | undefined): void {
  const withId = (d: Document): Document => (d._id === undefined ? { _id: new ObjectId(), ...d } : d);
  if ('$out' in stage) {
    const ns = outputNamespace(stage.$out, db, '$out');
    validateNamespace(ns.db, ns.coll);
    const existing = ctx.store.getCollection(ns.db, ns.coll);
    const specs = existing ? existing.indexes.map((i) => i.spec) : [];
    // Built aside first: a duplicate key fails the stage with the target untouched.
    const staged = new Collection(ns.db, ns.coll);
    for (const spec of specs) staged.addIndex(spec);
    const out = docs.map((d) => {
      const doc = withId(d);
      validateStoredDoc(doc, 'insert');
      staged.insert(doc);
      return doc;
    });
    if (existing) ctx.store.dropCollection(ns.db, ns.coll);
    const target = ctx.store.ensureCollection(ns.db, ns.coll);
    for (const spec of specs) target.addIndex(spec);
    for (const doc of out) target.insert(doc);
    return;
  }
  const raw = stage.$merge;
  const spec: Document = typeof raw === 'string' ? { into: raw } : asDoc(raw, '$merge');
  const ns = outputNamespace(spec.into, db, '$merge');
  validateNamespace(ns.db, ns.coll);
  const on: string[] = spec.on === undefined ? ['_id'] : Array.isArray(spec.on) ? (spec.on as string[]) : [String(spec.on)];
  const whenMatched = spec.whenMatched ?? 'merge';
  const whenNotMatched = spec.whenNotMatched ?? 'insert';
  const target = ctx.store.ensureCollection(ns.db, ns.coll);
  if (!(on.length === 1 && on[0] === '_id')) {
    const keyOf = (k: Document): string => canonicalKey(Object.keys(k).sort());
    if (!target.indexes.some((i) => i.unique && !i.partial && keyOf(i.spec.key as Document) === canonicalKey([...on].sort()))) {
      throw new DbError(51183, `Cannot find index to verify that join fields will be unique`);
    }
  }
  for (const d of docs) {
    const doc = withId(d);
    const filter: Document = {};
    for (const f of on) {
      const v = resolvePath(doc, f);
      if (v === undefined || v === null || Array.isArray(v)) throw new DbError(51132, `$merge write error: 'on' field '${f}' cannot be missing, null or an array`);
      filter[f] = v;
    }
    const match = target.find(filter, 1)[0];
    if (!match) {
      if (whenNotMatched === 'discard') continue;
      if (whenNotMatched === 'fail') throw new DbError(13113, '$merge could not find a matching document in the target collection for at least one document in the source collection');
      validateStoredDoc(doc, 'insert');
      target.insert(doc);
      continue;
    }
    if (whenMatched === 'keepExisting') continue;
    if (whenMatched === 'fail') throw new DbError(11000, `$merge failed: a document with the same 'on' fields exists in ${target.ns}`, { keyPattern: Object.fromEntries(on.map((f) => [f, 1])), keyValue: filter });
    let update: Document | Document[];
    if (Array.isArray(whenMatched)) update = whenMatched as Document[];
    else if (whenMatched === 'replace') update = { ...doc, _id: match._id };
    else if (whenMatched === 'merge') update = { $set: Object.fromEntries(Object.entries(doc).filter(([k]) => k !== '_id')) };
    else throw new DbError(51191, `Enumeration value '${String(whenMatched)}' for field 'whenMatched' is not a valid value.`);
    const { doc: next, changed } = computeUpdate(match, { filter, update, variables: { ...variables, ...((spec.let as Document) ?? {}), new: doc } });
    if (changed) target.replace(match, next);
  }
}

function count(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'count');
  const coll = ctx.store.getCollection(db, name);
  const collation = collationOf(cmd.collation, coll);
  const query = asDoc(cmd.query, 'query');
  const skip = asNumber(cmd.skip) ?? 0;
  const limit = Math.abs(asNumber(cmd.limit) ?? 0);
  let n = coll ? (Object.keys(query).length || isHint(cmd.hint) ? coll.find(query, 0, undefined, cmd.hint, collation).length : coll.docs.size) : 0;
  n = Math.max(0, n - skip);
  if (limit) n = Math.min(n, limit);
  return { n, ok: 1 };
}

function distinct(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'distinct');
  if (typeof cmd.key !== 'string') throw new DbError(14, "BSON field 'distinct.key' is missing or not a string");
  const coll = ctx.store.getCollection(db, name);
  const collation = collationOf(cmd.collation, coll);
  const docs = coll ? coll.find(asDoc(cmd.query, 'query'), 0, undefined, cmd.hint, collation) : [];
  const seen = new Map<string, unknown>();
  // Under a collation, values equal by it ("a" and "A" at strength 2) are one value, the first one met.
  const classOf = collation ? collationClasses(collation.compare) : (x: unknown) => x;
  for (const doc of docs) {
    const v = resolvePath(doc, cmd.key);
    const values = Array.isArray(v) ? v.flat() : [v];
    for (const x of values) {
      if (x === undefined) continue;
      const rep = classOf(x);
      const k = canonicalKey(rep);
      if (!seen.has(k)) seen.set(k, rep);
    }
  }
  const values = Array.from(seen.values()).sort((a, b) => compareBson(a, b, collation?.compare));
  return { values, ok: 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// Collections, indexes, databases

const INDEX_OPTIONS = new Set(['key', 'name', 'unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'background', 'v', 'hidden', 'collation']);

function defaultIndexName(key: Document): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}_${String(v)}`)
    .join('_');
}

/** An index spec as stored and listed; without its own collation an index takes the collection's default, as in mongod. */
function normalizeIndexSpec(raw: Document, defaultCollation: Collation | undefined): Document {
  for (const k of Object.keys(raw)) {
    if (!INDEX_OPTIONS.has(k)) throw notSupported(`index option '${k}' is not supported by the embedded database`);
  }
  const key = asDoc(raw.key, 'key');
  if (Object.keys(key).length === 0) throw new DbError(67, 'Index keys cannot be empty.');
  for (const [k, v] of Object.entries(key)) {
    if (typeof v !== 'number' || (v !== 1 && v !== -1)) throw notSupported(`index type ${JSON.stringify(v)} on '${k}' is not supported by the embedded database (only 1 / -1)`);
  }
  const spec: Document = { v: 2, key, name: typeof raw.name === 'string' ? raw.name : defaultIndexName(key) };
  if (raw.unique === true) spec.unique = true;
  if (raw.sparse === true) spec.sparse = true;
  if (raw.partialFilterExpression) spec.partialFilterExpression = asDoc(raw.partialFilterExpression, 'partialFilterExpression');
  if (raw.expireAfterSeconds !== undefined) {
    const s = asNumber(raw.expireAfterSeconds);
    if (s === undefined || !Number.isFinite(s) || s < 0) throw new DbError(2, 'TTL index expireAfterSeconds must be a non-negative number');
    if (Object.keys(key).length !== 1) throw new DbError(67, 'TTL indexes are single-field indexes, compound indexes do not support TTL');
    spec.expireAfterSeconds = s;
  }
  if (raw.hidden === true) spec.hidden = true;
  const collation = raw.collation !== undefined ? parseCollation(raw.collation) : defaultCollation;
  if (collation) spec.collation = collation.spec;
  return spec;
}

const sameSpec = (a: Document, b: Document): boolean => {
  const strip = (s: Document): string => canonicalKey({ ...s, name: undefined, v: undefined, background: undefined });
  return strip(a) === strip(b);
};

function createIndexes(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'createIndexes');
  const raw = cmd.indexes;
  if (!Array.isArray(raw) || raw.length === 0) throw new DbError(2, 'Must specify at least one index to create');
  const existing = ctx.store.getCollection(db, name);
  const existed = existing !== undefined;
  const specs = raw.map((r) => normalizeIndexSpec(asDoc(r, 'indexes'), existing?.collation));
  const coll = ctx.store.ensureCollection(db, name);
  const before = coll.indexes.length + 1;
  for (const spec of specs) {
    if (spec.name === '_id_' || canonicalKey(spec.key) === canonicalKey({ _id: 1 })) {
      // The _id index always exists and is unique; asking for it again changes nothing.
      continue;
    }
    const byName = coll.indexes.find((i) => i.name === spec.name);
    if (byName) {
      if (sameSpec(byName.spec, spec)) continue;
      throw new DbError(86, `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${BSON.EJSON.stringify(spec)}, existing index: ${BSON.EJSON.stringify(byName.spec)}`);
    }
    const byKey = coll.indexes.find(
      (i) =>
        canonicalKey(i.spec.key) === canonicalKey(spec.key) &&
        canonicalKey(i.spec.partialFilterExpression) === canonicalKey(spec.partialFilterExpression) &&
        canonicalKey(i.spec.collation) === canonicalKey(spec.collation),
    );
    if (byKey) {
      throw new DbError(85, `An equivalent index already exists with a different name and options. Requested index: ${BSON.EJSON.stringify(spec)}, existing index: ${BSON.EJSON.stringify(byKey.spec)}`);
    }
    coll.addIndex(spec);
  }
  const after = coll.indexes.length + 1;
  const reply: Document = { numIndexesBefore: before, numIndexesAfter: after, createdCollectionAutomatically: !existed };
  if (before === after) reply.note = 'all indexes already exist';
  reply.ok = 1;
  return reply;
}

function listIndexes(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'listIndexes');
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `ns does not exist: ${db}.${name}`);
  return ctx.cursors.open(`${db}.${name}`, coll.indexSpecs(), asNumber((cmd.cursor as Document | undefined)?.batchSize));
}

function dropIndexes(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'dropIndexes');
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `ns not found ${db}.${name}`);
  const nIndexesWas = coll.indexes.length + 1;
  const which = cmd.index;
  const names: string[] = which === '*' ? coll.indexes.map((i) => i.name) : Array.isArray(which) ? (which as string[]) : [];
  if (typeof which === 'string' && which !== '*') names.push(which);
  if (which && typeof which === 'object' && !Array.isArray(which)) {
    const idx = coll.indexes.find((i) => canonicalKey(i.spec.key) === canonicalKey(which));
    if (!idx) throw new DbError(27, `can't find index with key: ${BSON.EJSON.stringify(which as Document)}`);
    names.push(idx.name);
  }
  for (const n of names) {
    if (n === '_id_') throw new DbError(72, 'cannot drop _id index');
    if (!coll.indexes.some((i) => i.name === n)) throw new DbError(27, `index not found with name [${n}]`);
  }
  for (const n of names) coll.dropIndex(n);
  return { nIndexesWas, ok: 1 };
}

function create(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'create');
  const collation = parseCollation(cmd.collation);
  if (ctx.store.getCollection(db, name)) throw new DbError(48, `Collection ${db}.${name} already exists.`);
  if (cmd.viewOn !== undefined || cmd.pipeline !== undefined) {
    if (typeof cmd.viewOn !== 'string' || cmd.viewOn === '') throw new DbError(2, "'viewOn' option must be specified with 'pipeline'");
    const pipeline = cmd.pipeline ?? [];
    if (!Array.isArray(pipeline)) throw new DbError(14, "'pipeline' option must be specified as an array");
    for (const stage of pipeline as Document[]) {
      const op = Object.keys(stage ?? {})[0];
      if (op === '$out' || op === '$merge') throw new DbError(ErrorCodes.OptionNotSupportedOnView, `${op} cannot be used in a view definition`);
    }
    ctx.store.ensureCollection(db, name, { viewOn: cmd.viewOn, pipeline, ...(collation ? { collation: collation.spec } : {}) });
    return { ok: 1 };
  }
  ctx.store.ensureCollection(db, name, validationOptions(cmd, collation ? { collation: collation.spec } : {}));
  return { ok: 1 };
}

/** validator / validationLevel / validationAction of create and collMod, checked like mongod's parser. */
function validationOptions(cmd: Document, base: Document): Document {
  const out: Document = { ...base };
  if (cmd.validator !== undefined) {
    const v = asDoc(cmd.validator, 'validator');
    compileQuery(v); // a bad operator or $jsonSchema keyword fails here, not on the first insert
    if (Object.keys(v).length) out.validator = v;
    else delete out.validator;
  }
  if (cmd.validationLevel !== undefined) {
    if (!['off', 'strict', 'moderate'].includes(cmd.validationLevel as string)) throw new DbError(2, `Enumeration value '${String(cmd.validationLevel)}' for field 'validationLevel' is not a valid value.`);
    out.validationLevel = cmd.validationLevel;
  }
  if (cmd.validationAction !== undefined) {
    if (!['error', 'warn'].includes(cmd.validationAction as string)) throw new DbError(2, `Enumeration value '${String(cmd.validationAction)}' for field 'validationAction' is not a valid value.`);
    out.validationAction = cmd.validationAction;
  }
  return out;
}

function collMod(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'collMod');
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `ns does not exist: ${db}.${name}`);
  if (typeof coll.options.viewOn === 'string') throw new DbError(ErrorCodes.CommandNotSupportedOnView, `Namespace ${db}.${name} is a view, not a collection`);
  ctx.store.setOptions(db, name, validationOptions(cmd, coll.options));
  return { ok: 1 };
}

/** The collection a view reads and the pipeline that gets there (views may stack). */
function resolveView(ctx: CommandContext, db: string, name: string): { source: string; pipeline: Document[] } {
  let source = name;
  let pipeline: Document[] = [];
  for (let depth = 0; depth < 20; depth++) {
    const c = ctx.store.getCollection(db, source);
    if (!c || typeof c.options.viewOn !== 'string') return { source, pipeline };
    pipeline = [...(c.options.pipeline as Document[]), ...pipeline];
    source = c.options.viewOn;
  }
  throw new DbError(ErrorCodes.ViewDepthLimitExceeded, `View depth too deep or view cycle detected; maximum depth is 20`);
}

const VIEW_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify', 'createIndexes', 'dropIndexes', 'listIndexes', 'collStats']);

/**
 * Commands naming a view: reads become an aggregation over the view's source with the view's pipeline first,
 * as in mongod; writes fail with 166. Returns undefined for commands on plain collections.
 */
function onView(ctx: CommandContext, name: string, cmd: Document, db: string, conn: ConnectionInfo): Document | undefined {
  const target = cmd[name];
  if (typeof target !== 'string') return undefined;
  const view = ctx.store.getCollection(db, target);
  if (!view || typeof view.options.viewOn !== 'string') return undefined;
  if (VIEW_WRITES.has(name)) throw new DbError(ErrorCodes.CommandNotSupportedOnView, `Namespace ${db}.${target} is a view, not a collection`);
  const { source, pipeline } = resolveView(ctx, db, target);
  // A view has its own default collation (simple unless created with one), whatever its source's; a command may
  // only restate it, as in mongod.
  const viewCollation = parseCollation(view.options.collation);
  if (cmd.collation !== undefined && !sameCollation(parseCollation(cmd.collation), viewCollation)) {
    throw new DbError(ErrorCodes.OptionNotSupportedOnView, "Cannot override a view's default collation");
  }
  const run = (stages: Document[], batchSize?: number): Document => {
    const reply = aggregate(
      ctx,
      { aggregate: source, pipeline: [...pipeline, ...stages], cursor: batchSize === undefined ? {} : { batchSize }, let: cmd.let, collation: viewCollation?.spec ?? { locale: 'simple' } },
      db,
      conn,
    );
    (reply.cursor as Document).ns = `${db}.${target}`;
    return reply;
  };
  if (name === 'aggregate') {
    if (!Array.isArray(cmd.pipeline)) throw new DbError(14, "'pipeline' option must be specified as an array");
    return run(cmd.pipeline as Document[], asNumber((cmd.cursor as Document | undefined)?.batchSize));
  }
  if (name === 'find') {
    const stages: Document[] = [];
    if (cmd.filter && Object.keys(cmd.filter as Document).length) stages.push({ $match: cmd.filter });
    if (cmd.sort && Object.keys(cmd.sort as Document).length) stages.push({ $sort: cmd.sort });
    if (cmd.skip) stages.push({ $skip: asNumber(cmd.skip) });
    if (cmd.limit) stages.push({ $limit: Math.abs(asNumber(cmd.limit) ?? 0) });
    if (cmd.projection && Object.keys(cmd.projection as Document).length) stages.push({ $project: cmd.projection });
    return run(stages, asNumber(cmd.batchSize));
  }
  if (name === 'count') {
    const stages: Document[] = [];
    if (cmd.query && Object.keys(cmd.query as Document).length) stages.push({ $match: cmd.query });
    if (cmd.skip) stages.push({ $skip: asNumber(cmd.skip) });
    if (cmd.limit) stages.push({ $limit: Math.abs(asNumber(cmd.limit) ?? 0) });
    stages.push({ $count: 'n' });
    const first = ((run(stages).cursor as Document).firstBatch as Document[])[0];
    return { n: first?.n ?? 0, ok: 1 };
  }
  if (name === 'distinct') throw notSupported(`'distinct' on a view is not supported by the embedded database; use aggregate with $group`);
  return undefined;
}

function drop(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'drop');
  const coll = ctx.store.dropCollection(db, name);
  return coll ? { nIndexesWas: coll.indexes.length + 1, ns: coll.ns, ok: 1 } : { ok: 1 };
}

function listCollections(ctx: CommandContext, cmd: Document, db: string): Document {
  const colls = ctx.store.dbs.get(db);
  const nameOnly = cmd.nameOnly === true;
  let docs: Document[] = Array.from(colls?.values() ?? [], (c) =>
    nameOnly
      ? { name: c.name, type: c.options.viewOn ? 'view' : 'collection' }
      : c.options.viewOn
        ? { name: c.name, type: 'view', options: { viewOn: c.options.viewOn, pipeline: c.options.pipeline, ...(c.options.collation ? { collation: c.options.collation } : {}) }, info: { readOnly: true } }
        : { name: c.name, type: 'collection', options: { ...c.options }, info: { readOnly: false, uuid: c.uuid }, idIndex: { v: 2, key: { _id: 1 }, name: '_id_' } },
  );
  const filter = asDoc(cmd.filter, 'filter');
  if (Object.keys(filter).length) docs = docs.filter((d) => compileQuery(filter).test(d));
  return ctx.cursors.open(`${db}.$cmd.listCollections`, docs, asNumber((cmd.cursor as Document | undefined)?.batchSize));
}

/** Sizes as mongod reports them, from the BSON size of the documents (an in-memory server has no files: storage = data). */
function collectionSizes(coll: Collection): { count: number; size: number; indexSizes: Document; totalIndexSize: number } {
  let size = 0;
  for (const doc of coll.docs.values()) size += BSON.calculateObjectSize(doc);
  const indexSizes: Document = {};
  let totalIndexSize = 0;
  for (const idx of [coll.idIndex, ...coll.indexes]) {
    // Rough but monotonic: an entry is its key plus a record id.
    const bytes = idx.sorted.length * 24 + 4096;
    indexSizes[idx.name] = bytes;
    totalIndexSize += bytes;
  }
  return { count: coll.docs.size, size, indexSizes, totalIndexSize };
}

function databaseSize(ctx: CommandContext, db: string): number {
  let total = 0;
  for (const coll of ctx.store.dbs.get(db)?.values() ?? []) {
    const s = collectionSizes(coll);
    total += s.size + s.totalIndexSize + 4096;
  }
  return total;
}

function scaleOf(cmd: Document, field = 'scale'): number {
  const scale = asNumber(cmd[field]) ?? 1;
  if (!(scale >= 1)) throw new DbError(2, 'Scale factor must be greater than zero');
  return Math.trunc(scale);
}

function listDatabases(ctx: CommandContext, cmd: Document): Document {
  let databases: Document[] = Array.from(ctx.store.dbs.keys(), (name) => {
    const sizeOnDisk = databaseSize(ctx, name);
    return { name, sizeOnDisk, empty: sizeOnDisk === 0 };
  });
  const filter = asDoc(cmd.filter, 'filter');
  if (Object.keys(filter).length) databases = databases.filter((d) => compileQuery(filter).test(d));
  if (cmd.nameOnly === true) return { databases: databases.map((d) => ({ name: d.name })), ok: 1 };
  const totalSize = databases.reduce((n, d) => n + (d.sizeOnDisk as number), 0);
  return { databases, totalSize, totalSizeMb: Math.floor(totalSize / (1024 * 1024)), ok: 1 };
}

/** collStats (deprecated in mongod 6.2 but still what older tools send) and the storageStats of $collStats. */
function storageStats(coll: Collection, scale: number): Document {
  const s = collectionSizes(coll);
  const indexSizes: Document = {};
  for (const [k, v] of Object.entries(s.indexSizes)) indexSizes[k] = Math.floor((v as number) / scale);
  return {
    size: Math.floor(s.size / scale),
    count: s.count,
    avgObjSize: s.count ? Math.floor(s.size / s.count) : 0,
    storageSize: Math.floor(s.size / scale),
    freeStorageSize: 0,
    capped: false,
    nindexes: coll.indexes.length + 1,
    indexBuilds: [],
    totalIndexSize: Math.floor(s.totalIndexSize / scale),
    totalSize: Math.floor((s.size + s.totalIndexSize) / scale),
    indexSizes,
    scaleFactor: scale,
  };
}

function collStats(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'collStats');
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `Collection [${db}.${name}] not found.`);
  return { ns: coll.ns, ...storageStats(coll, scaleOf(cmd)), ok: 1 };
}

function collStatsStage(ctx: CommandContext, db: string, name: string, spec: Document): Document {
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `Unable to retrieve storageStats in $collStats stage :: caused by :: Collection [${db}.${name}] not found.`);
  const out: Document = { ns: coll.ns, host: ctx.info.address, localTime: new Date() };
  if (spec.latencyStats) {
    const zero = { latency: 0, ops: 0 };
    out.latencyStats = { reads: zero, writes: zero, commands: zero, transactions: zero };
  }
  if (spec.storageStats) out.storageStats = storageStats(coll, scaleOf(asDoc(spec.storageStats, 'storageStats')));
  if (spec.count) out.count = coll.docs.size;
  if (spec.queryExecStats) out.queryExecStats = { collectionScans: { total: 0, nonTailable: 0 } };
  return out;
}

function indexStatsStage(ctx: CommandContext, db: string, name: string): Document[] {
  const coll = ctx.store.getCollection(db, name);
  if (!coll) return [];
  return [coll.idIndex, ...coll.indexes].map((idx) => ({
    name: idx.name,
    key: idx.spec.key,
    host: ctx.info.address,
    accesses: { ops: idx.accesses, since: idx.createdAt },
    spec: idx.spec,
  }));
}

function dropDatabase(ctx: CommandContext, _cmd: Document, db: string): Document {
  ctx.store.dropDatabase(db);
  return { dropped: db, ok: 1 };
}

function renameCollection(ctx: CommandContext, cmd: Document): Document {
  const from = String(cmd.renameCollection ?? '');
  const to = String(cmd.to ?? '');
  const split = (ns: string): [string, string] => {
    const i = ns.indexOf('.');
    if (i <= 0) throw new DbError(73, `Invalid namespace specified '${ns}'`);
    return [ns.slice(0, i), ns.slice(i + 1)];
  };
  const [fdb, fname] = split(from);
  const [tdb, tname] = split(to);
  const coll = ctx.store.getCollection(fdb, fname);
  if (!coll) throw new DbError(26, 'source namespace does not exist');
  if (ctx.store.getCollection(tdb, tname)) {
    if (cmd.dropTarget !== true) throw new DbError(48, 'target namespace exists');
    ctx.store.dropCollection(tdb, tname);
  }
  const target = ctx.store.ensureCollection(tdb, tname);
  for (const spec of coll.indexes.map((i) => i.spec)) target.addIndex(spec);
  for (const doc of coll.docs.values()) target.insert(doc);
  ctx.store.dropCollection(fdb, fname);
  return { ok: 1 };
}

function dbStats(ctx: CommandContext, cmd: Document, db: string): Document {
  const scale = scaleOf(cmd);
  const colls = Array.from(ctx.store.dbs.get(db)?.values() ?? []);
  let objects = 0;
  let dataSize = 0;
  let indexSize = 0;
  let indexes = 0;
  for (const c of colls) {
    const s = collectionSizes(c);
    objects += s.count;
    dataSize += s.size;
    indexSize += s.totalIndexSize;
    indexes += c.indexes.length + 1;
  }
  return {
    db,
    collections: colls.length,
    views: 0,
    objects,
    avgObjSize: objects ? dataSize / objects : 0,
    dataSize: Math.floor(dataSize / scale),
    storageSize: Math.floor(dataSize / scale),
    indexes,
    indexSize: Math.floor(indexSize / scale),
    totalSize: Math.floor((dataSize + indexSize) / scale),
    scaleFactor: scale,
    fsUsedSize: 0,
    fsTotalSize: 0,
    ok: 1,
  };
}

function getLog(_ctx: CommandContext, cmd: Document): Document {
  const which = cmd.getLog;
  if (which === '*') return { names: ['global', 'startupWarnings'], ok: 1 };
  if (which !== 'global' && which !== 'startupWarnings') throw new DbError(2, `No log named '${String(which)}'`);
  return { totalLinesWritten: 0, log: [], ok: 1 };
}

function connectionStatus(_ctx: CommandContext, cmd: Document, _db: string, conn: ConnectionInfo): Document {
  const user = conn.auth?.user;
  const authInfo: Document = { authenticatedUsers: user ? [{ user, db: 'admin' }] : [], authenticatedUserRoles: user ? [{ role: 'root', db: 'admin' }] : [] };
  if (cmd.showPrivileges === true) authInfo.authenticatedUserPrivileges = [];
  return { authInfo, ok: 1 };
}

function validate(ctx: CommandContext, cmd: Document, db: string): Document {
  const name = collName(cmd, 'validate');
  if (cmd.repair === true) throw notSupported('validate with repair is not supported by the embedded database (it never needs one)');
  const coll = ctx.store.getCollection(db, name);
  if (!coll) throw new DbError(26, `Collection '${db}.${name}' does not exist to validate.`);
  return validateCollection(coll);
}

/** currentOp (the command form of $currentOp): fields other than its flags filter the operations, as in mongod. */
function currentOp(ctx: CommandContext, cmd: Document, db: string, conn: ConnectionInfo): Document {
  if (db !== 'admin') throw new DbError(13, 'currentOp may only be run against the admin database.');
  const filter: Document = {};
  for (const [k, v] of Object.entries(cmd)) if (k !== 'currentOp' && k !== '$all' && k !== '$ownOps' && !GENERIC_FIELDS.has(k)) filter[k] = v;
  const ops = [currentOperation(ctx.info.address, conn.id, db, cmd)];
  return { inprog: Object.keys(filter).length ? ops.filter((o) => compileQuery(filter).test(o)) : ops, ok: 1 };
}

/** killOp: every operation finishes before the next command is read, so there is never one left to kill. */
function killOp(_ctx: CommandContext, cmd: Document, db: string): Document {
  if (db !== 'admin') throw new DbError(13, 'killOp may only be run against the admin database.');
  if (cmd.op === undefined) throw new DbError(4, 'Did not provide "op" field');
  return { info: 'attempting to kill op', ok: 1 };
}

function refuseTransactions(): Document {
  throw new DbError(263, 'Transactions are not supported by the embedded database: multi-document transactions need a real MongoDB replica set (set MONGODB_URI)');
}

const ok = (): Document => ({ ok: 1 });

/** What an unauthenticated connection may run when the server has a user (as mongod: the handshake and authentication). */
const AUTH_FREE = new Set(['hello', 'isMaster', 'ismaster', 'buildInfo', 'buildinfo', 'ping', 'saslStart', 'saslContinue', 'connectionStatus', 'whatsmyuri', 'endSessions', 'logout']);

const WRITE_OPTS = ['ordered', 'bypassDocumentValidation', 'let', 'stmtId', 'stmtIds', 'isTimeseriesNamespace'];

const COMMANDS: Record<string, CommandDef> = {
  hello: { handler: hello, lenient: true },
  ping: { handler: ok },
  buildInfo: { handler: buildInfo },
  buildinfo: { handler: buildInfo },
  getParameter: { handler: getParameter, lenient: true },
  endSessions: {
    handler: (ctx, cmd) => {
      ctx.sessions.end(cmd.endSessions);
      return { ok: 1 };
    },
  },
  validate: { handler: validate, allowed: ['full', 'repair', 'metadata', 'background', 'checkBSONConformance', 'enforceFastCount', 'scandata'] },
  currentOp: { handler: currentOp, lenient: true },
  killOp: { handler: killOp, allowed: ['op'] },
  killSessions: { handler: ok },
  killAllSessions: { handler: ok },
  startSession: { handler: () => ({ id: { id: new BSON.UUID() }, timeoutMinutes: 30, ok: 1 }) },
  refreshSessions: { handler: ok },
  serverStatus: { handler: serverStatus },
  connectionStatus: { handler: connectionStatus, allowed: ['showPrivileges'] },
  saslStart: { handler: (ctx, cmd, db, conn) => saslStart(ctx.info.users, (conn.auth ??= {}), cmd, db), allowed: ['mechanism', 'payload', 'autoAuthorize', 'options'] },
  saslContinue: { handler: (ctx, cmd, _db, conn) => saslContinue(ctx.info.users, (conn.auth ??= {}), cmd), allowed: ['conversationId', 'payload'] },
  logout: {
    handler: (_ctx, _cmd, _db, conn) => {
      conn.auth = undefined;
      return { ok: 1 };
    },
  },
  whatsmyuri: { handler: () => ({ you: '127.0.0.1', ok: 1 }) },
  hostInfo: { handler: () => ({ system: { hostname: '127.0.0.1' }, os: { type: process.platform }, ok: 1 }) },
  getLog: { handler: getLog },
  collStats: { handler: collStats, allowed: ['scale', 'verbose'] },
  getCmdLineOpts: { handler: () => ({ argv: ['embedded-db'], parsed: {}, ok: 1 }) },
  insert: { handler: insert, allowed: ['documents', ...WRITE_OPTS], retryable: true },
  update: { handler: update, allowed: ['updates', ...WRITE_OPTS], retryable: true },
  delete: { handler: del, allowed: ['deletes', ...WRITE_OPTS], retryable: true },
  bulkWrite: { handler: bulkWrite, allowed: ['ops', 'nsInfo', 'ordered', 'bypassDocumentValidation', 'let', 'errorsOnly', 'cursor'], retryable: true },
  findAndModify: {
    handler: findAndModify,
    allowed: ['query', 'sort', 'update', 'new', 'upsert', 'fields', 'remove', 'arrayFilters', 'hint', 'let', 'bypassDocumentValidation', 'stmtId', 'collation'],
    retryable: true,
  },
  find: {
    handler: find,
    allowed: ['filter', 'projection', 'sort', 'skip', 'limit', 'batchSize', 'singleBatch', 'hint', 'let', 'allowDiskUse', 'noCursorTimeout', 'allowPartialResults', 'collation', 'tailable', 'awaitData', 'readOnce'],
    refused: ['min', 'max', 'returnKey', 'showRecordId', 'oplogReplay'],
  },
  getMore: { handler: getMore, allowed: ['collection', 'batchSize'] },
  explain: { handler: explain, allowed: ['verbosity'] },
  killCursors: { handler: killCursors, allowed: ['cursors'] },
  aggregate: { handler: aggregate, allowed: ['pipeline', 'cursor', 'explain', 'allowDiskUse', 'let', 'hint', 'collation', 'bypassDocumentValidation'] },
  count: { handler: count, allowed: ['query', 'limit', 'skip', 'hint', 'collation', 'fields'] },
  distinct: { handler: distinct, allowed: ['key', 'query', 'hint', 'collation'] },
  createIndexes: { handler: createIndexes, allowed: ['indexes', 'commitQuorum'] },
  listIndexes: { handler: listIndexes, allowed: ['cursor'] },
  dropIndexes: { handler: dropIndexes, allowed: ['index'] },
  deleteIndexes: { handler: dropIndexes, allowed: ['index'] },
  collMod: { handler: collMod, allowed: ['validator', 'validationLevel', 'validationAction'], refused: ['index', 'expireAfterSeconds', 'viewOn', 'pipeline', 'changeStreamPreAndPostImages', 'cappedSize', 'cappedMax', 'timeseries', 'clusteredIndex', 'dryRun'] },
  create: { handler: create, allowed: ['idIndex', 'collation', 'viewOn', 'pipeline', 'validator', 'validationLevel', 'validationAction'], refused: ['capped', 'size', 'max', 'timeseries', 'clusteredIndex', 'changeStreamPreAndPostImages', 'expireAfterSeconds', 'storageEngine', 'indexOptionDefaults', 'encryptedFields'] },
  drop: { handler: drop },
  listCollections: { handler: listCollections, allowed: ['filter', 'nameOnly', 'authorizedCollections', 'cursor'] },
  listDatabases: { handler: listDatabases, allowed: ['filter', 'nameOnly', 'authorizedDatabases'] },
  dropDatabase: { handler: dropDatabase },
  renameCollection: { handler: renameCollection, allowed: ['to', 'dropTarget', 'stayTemp'] },
  dbStats: { handler: dbStats, allowed: ['scale', 'freeStorage'] },
  commitTransaction: { handler: refuseTransactions, allowed: ['autocommit', 'recoveryToken'] },
  abortTransaction: { handler: refuseTransactions, allowed: ['autocommit', 'recoveryToken'] },
};
COMMANDS.isMaster = { ...COMMANDS.hello };
COMMANDS.ismaster = COMMANDS.isMaster;
COMMANDS.findandmodify = COMMANDS.findAndModify;

export function errorReply(err: unknown): Document {
  const e = toDbError(err);
  return { ok: 0, errmsg: e.message, code: e.code, codeName: e.codeName, ...(e.extra ?? {}) };
}

/** Runs one command and always returns a reply document (errors become ok: 0 replies). */
export function runCommand(ctx: CommandContext, cmd: Document, conn: ConnectionInfo, dbOverride?: string): Document {
  const name = Object.keys(cmd)[0];
  try {
    if (name === undefined) throw new DbError(59, 'no such command: empty command document');
    const def = COMMANDS[name];
    if (!def) throw new DbError(59, `no such command: '${name}'`);
    const db = dbOverride ?? cmd.$db;
    if (typeof db !== 'string') throw new DbError(40414, "BSON field '$db' is missing but a required field");
    validateNamespace(db);
    if (ctx.info.users && !conn.auth?.user && !AUTH_FREE.has(name)) throw new DbError(13, `Command ${name} requires authentication`);
    if (cmd.lsid && typeof cmd.lsid === 'object') ctx.sessions.touch((cmd.lsid as Document).id, conn.auth?.user);
    if (cmd.startTransaction !== undefined || cmd.autocommit !== undefined) refuseTransactions();
    checkOptions(name, def, cmd);
    let retryKey: string | undefined;
    if (def.retryable && cmd.txnNumber !== undefined && cmd.lsid && typeof cmd.lsid === 'object') {
      const lsid = (cmd.lsid as Document).id;
      // latin1 of the 16 UUID bytes is the cheapest faithful string form of the session id.
      retryKey = `${lsid instanceof BSON.Binary ? Buffer.from(lsid.buffer.buffer, lsid.buffer.byteOffset, lsid.position).toString('latin1') : canonicalKey(lsid)}:${String(cmd.txnNumber)}:${db}`;
      const previous = ctx.store.retries.get(retryKey);
      if (previous) return previous;
      return ctx.store.retryable(retryKey, () => onView(ctx, name, cmd, db, conn) ?? def.handler(ctx, cmd, db, conn));
    }
    return onView(ctx, name, cmd, db, conn) ?? def.handler(ctx, cmd, db, conn);
  } catch (err) {
    return errorReply(err);
  }
}
