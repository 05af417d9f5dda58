// Open server-side cursors: hold a result snapshot and hand it out in batches for getMore.
import { BSON, Long, type Document } from 'bson';
import { DbError } from './errors.js';
import { MAX_BSON_SIZE } from './wire.js';

interface OpenCursor {
  ns: string;
  docs: Document[];
  pos: number;
  lastUsed: number;
  /** Streaming cursors: documents still to come, pulled batch by batch (an index scan in order). */
  source?: Iterator<Document>;
  /** Applied to each pulled chunk (projection). */
  transform?: (docs: Document[]) => Document[];
  /** Connection that opened it: its cursors die with it, as in mongod. */
  connection?: number;
}

export interface StreamOptions {
  transform?: (docs: Document[]) => Document[];
  connection?: number;
}

/** mongod's default: the first batch holds at most 101 documents. */
export const DEFAULT_FIRST_BATCH = 101;
/** Leaves headroom under 16 MiB for the reply envelope around the batch. */
const MAX_BATCH_BYTES = MAX_BSON_SIZE - 64 * 1024;
const CURSOR_IDLE_MS = 10 * 60 * 1000;

export class CursorManager {
  private readonly cursors = new Map<number, OpenCursor>();
  // Ids stay below 2^53 so they survive promoteLongs on the way back in.
  private nextId = Math.floor(Math.random() * 1e9) + 1;

  /** Cuts the next batch; stops early at the byte budget but always returns at least one document. */
  private takeBatch(c: OpenCursor, max: number): Document[] {
    const out: Document[] = [];
    let bytes = 0;
    for (;;) {
      if (c.pos >= c.docs.length) {
        if (!c.source || out.length >= max) break;
        this.pull(c, max - out.length);
        if (c.pos >= c.docs.length) break;
      }
      if (out.length >= max) break;
      const doc = c.docs[c.pos];
      bytes += BSON.calculateObjectSize(doc);
      if (out.length > 0 && bytes > MAX_BATCH_BYTES) break;
      out.push(doc);
      c.pos++;
    }
    return out;
  }

  /** Refills the buffer from a streaming source; the source is dropped once it runs dry. */
  private pull(c: OpenCursor, n: number): void {
    const chunk: Document[] = [];
    const want = Math.min(n, 1000);
    while (chunk.length < want) {
      const next = c.source!.next();
      if (next.done) {
        c.source = undefined;
        break;
      }
      chunk.push(next.value);
    }
    c.docs = c.transform ? c.transform(chunk) : chunk;
    c.pos = 0;
  }

  private exhausted(c: OpenCursor): boolean {
    return c.pos >= c.docs.length && !c.source;
  }

  /** Like open(), for results produced lazily (nothing is materialized beyond the batch being sent). */
  openStream(ns: string, source: Iterator<Document>, batchSize: number | undefined, singleBatch: boolean, options: StreamOptions = {}): Document {
    const c: OpenCursor = { ns, docs: [], pos: 0, lastUsed: Date.now(), source, transform: options.transform, connection: options.connection };
    const firstBatch = this.takeBatch(c, batchSize === undefined ? DEFAULT_FIRST_BATCH : batchSize === 0 ? 0 : batchSize);
    let id = 0;
    if (!singleBatch && !this.exhausted(c)) {
      id = this.nextId++;
      this.cursors.set(id, c);
    }
    return { cursor: { firstBatch, id: Long.fromNumber(id), ns }, ok: 1 };
  }

  /** Closes the cursors a connection opened (mongod kills them when their client disconnects). */
  closeConnection(connection: number): void {
    for (const [id, c] of this.cursors) if (c.connection === connection) this.cursors.delete(id);
  }

  /** Builds the `cursor` reply for find/aggregate/list*, registering a cursor only if results remain. */
  open(ns: string, docs: Document[], batchSize: number | undefined, singleBatch = false, connection?: number): Document {
    const c: OpenCursor = { ns, docs, pos: 0, lastUsed: Date.now(), connection };
    const firstBatch = this.takeBatch(c, batchSize === undefined ? DEFAULT_FIRST_BATCH : batchSize === 0 ? 0 : batchSize);
    let id = 0;
    if (!singleBatch && c.pos < docs.length) {
      id = this.nextId++;
      this.cursors.set(id, c);
    }
    return { cursor: { firstBatch, id: Long.fromNumber(id), ns }, ok: 1 };
  }

  getMore(id: number, ns: string, batchSize: number | undefined): Document {
    const c = this.cursors.get(id);
    if (!c) throw new DbError(43, `cursor id ${id} not found`);
    if (c.ns !== ns) throw new DbError(13, `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${c.ns}`);
    c.lastUsed = Date.now();
    const nextBatch = this.takeBatch(c, batchSize && batchSize > 0 ? batchSize : Number.MAX_SAFE_INTEGER);
    let outId = id;
    if (this.exhausted(c)) {
      this.cursors.delete(id);
      outId = 0;
    }
    return { cursor: { nextBatch, id: Long.fromNumber(outId), ns }, ok: 1 };
  }

  kill(ids: number[]): Document {
    const killed: Long[] = [];
    const notFound: Long[] = [];
    for (const id of ids) (this.cursors.delete(id) ? killed : notFound).push(Long.fromNumber(id));
    return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  /** Drops cursors idle for longer than mongod's default cursor timeout. */
  reap(now = Date.now()): void {
    for (const [id, c] of this.cursors) if (now - c.lastUsed > CURSOR_IDLE_MS) this.cursors.delete(id);
  }

  clear(): void {
    this.cursors.clear();
  }
}
