// Operator commands: validate (checks every index against the documents), currentOp / killOp, and the session list of $listLocalSessions.
import { createHash } from 'node:crypto';
import { Binary, type Document } from 'bson';
import type { Collection } from './store.js';

/**
 * validate: recomputes every document's index keys and compares them with what each index holds (count, order,
 * owners), as mongod's validate compares index entries with records. Nothing here is ever repaired.
 */
export function validateCollection(coll: Collection): Document {
  const errors: string[] = [];
  const keysPerIndex: Document = {};
  const indexDetails: Document = {};
  for (const idx of [coll.idIndex, ...coll.indexes]) {
    const problems: string[] = [];
    let expected = 0;
    for (const doc of coll.docs.values()) expected += idx.keysOf(doc)?.tuples.length ?? 0;
    if (expected !== idx.sorted.length) problems.push(`index ${idx.name} has ${idx.sorted.length} keys, the documents give ${expected}`);
    for (let i = 1; i < idx.sorted.length; i++) {
      if (idx.compare(idx.sorted[i - 1], idx.sorted[i]) > 0) {
        problems.push(`index ${idx.name} is out of order at entry ${i}`);
        break;
      }
    }
    const orphans = idx.sorted.filter((e) => !coll.docs.has(e.id)).length;
    if (orphans) problems.push(`index ${idx.name} has ${orphans} entries for missing documents`);
    keysPerIndex[idx.name] = idx.sorted.length;
    indexDetails[idx.name] = { valid: problems.length === 0 };
    errors.push(...problems);
  }
  return {
    ns: coll.ns,
    uuid: coll.uuid,
    nInvalidDocuments: 0,
    nNonCompliantDocuments: 0,
    nrecords: coll.docs.size,
    nIndexes: coll.indexes.length + 1,
    keysPerIndex,
    indexDetails,
    valid: errors.length === 0,
    repaired: false,
    warnings: [],
    errors,
    extraIndexEntries: [],
    missingIndexEntries: [],
    corruptRecords: [],
    ok: 1,
  };
}

/** The server's logical sessions, as mongod's session cache knows them: created by the first command that names one. */
export class SessionRegistry {
  private readonly sessions = new Map<string, { id: Binary; user: string | undefined; lastUse: Date }>();

  constructor(private readonly max = 10_000) {}

  touch(id: unknown, user: string | undefined): void {
    if (!(id instanceof Binary)) return;
    const key = Buffer.from(id.buffer.subarray(0, id.position)).toString('latin1');
    const existing = this.sessions.get(key);
    if (existing) {
      existing.lastUse = new Date();
      return;
    }
    this.sessions.set(key, { id, user, lastUse: new Date() });
    if (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value!);
  }

  end(ids: unknown): void {
    if (!Array.isArray(ids)) return;
    for (const d of ids) {
      const id = (d as Document | null)?.id;
      if (id instanceof Binary) this.sessions.delete(Buffer.from(id.buffer.subarray(0, id.position)).toString('latin1'));
    }
  }

  /** $listLocalSessions documents: `{_id: {id, uid}, lastUse, user}` (uid is the SHA-256 of the user name, as mongod). */
  list(user: string | undefined, allUsers: boolean): Document[] {
    const out: Document[] = [];
    for (const s of this.sessions.values()) {
      if (!allUsers && s.user !== user) continue;
      const uid = new Binary(createHash('sha256').update(s.user ? `${s.user}@admin` : '').digest(), 0);
      out.push({ _id: { id: s.id, uid }, lastUse: s.lastUse, ...(s.user ? { user: { name: `${s.user}@admin` } } : {}) });
    }
    return out;
  }
}

let nextOpId = 1;

/**
 * currentOp: commands run one at a time from start to reply, so the only operation in progress is the one asking.
 * Returns it as mongod shapes an entry.
 */
export function currentOperation(host: string, connectionId: number, db: string, cmd: Document): Document {
  const { $db: _db, ...command } = cmd;
  return {
    type: 'op',
    host,
    desc: `conn${connectionId}`,
    connectionId,
    client: '127.0.0.1',
    active: true,
    currentOpTime: new Date().toISOString(),
    opid: nextOpId++,
    secs_running: 0,
    microsecs_running: 0,
    op: 'command',
    ns: `${db}.$cmd`,
    command,
    numYields: 0,
    waitingForLock: false,
    locks: {},
    lockStats: {},
  };
}
