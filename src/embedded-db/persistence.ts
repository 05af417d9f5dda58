// Durability of a data directory: checksummed snapshots (checkpoints), the write-ahead journal, and recovery from both.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BSON, type Document } from 'bson';
import { CorruptFileError, MAGIC_SIZE, encodeFrame, readFrames } from './frames.js';
import { JOURNAL_MAGIC, Journal, fsyncDir, journalFileName, journalGeneration } from './journal.js';
import type { Store, WriteOp } from './store.js';
import { DESERIALIZE_OPTIONS } from './wire.js';

const SNAPSHOT_FILE = 'embedded-db.snapshot.bson';
const LOCK_FILE = 'embedded-db.lock';
const SNAPSHOT_MAGIC = Buffer.from('EDBSNP02', 'latin1');
const LEGACY_FORMAT = 'embedded-db-snapshot';
/** Snapshot writes are cut into chunks of about this size so the server keeps answering while one is written. */
const CHUNK_BYTES = 1 << 20;

export function snapshotPath(dataDir: string): string {
  return path.join(dataDir, SNAPSHOT_FILE);
}

interface CapturedCollection {
  db: string;
  name: string;
  options: Document;
  indexes: Document[];
  docs: Document[];
}

interface Captured {
  colls: CapturedCollection[];
  /** Replies of retryable writes, so a write retried after a restart is still answered, not applied again. */
  retries: { key: string; reply: Document; at: number }[];
}

/** The store's state at one instant; documents are immutable, so holding references is a consistent copy. */
function capture(store: Store): Captured {
  const colls: CapturedCollection[] = [];
  for (const [db, cs] of store.dbs) {
    for (const c of cs.values()) colls.push({ db, name: c.name, options: c.options, indexes: c.indexes.map((i) => i.spec), docs: Array.from(c.docs.values()) });
  }
  return { colls, retries: Array.from(store.retries.entries()) };
}

/**
 * Writes a snapshot covering journal records up to `seq`: temp file, fsync, rename over the old one, fsync the
 * directory. The header and trailer both carry the collection and document counts, so a cut file never loads.
 */
async function writeSnapshot(dataDir: string, { colls, retries }: Captured, seq: number): Promise<void> {
  const documents = colls.reduce((n, c) => n + c.docs.length, 0);
  const file = snapshotPath(dataDir);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const h = await open(tmp, 'wx');
  try {
    let chunk: Buffer[] = [SNAPSHOT_MAGIC, encodeFrame({ t: 'header', version: 2, seq, collections: colls.length, documents, createdAt: new Date() })];
    let bytes = 0;
    const push = async (b: Buffer): Promise<void> => {
      chunk.push(b);
      bytes += b.length;
      if (bytes >= CHUNK_BYTES) {
        await h.write(Buffer.concat(chunk));
        chunk = [];
        bytes = 0;
      }
    };
    for (const c of colls) {
      await push(encodeFrame({ t: 'coll', db: c.db, name: c.name, options: c.options, indexes: c.indexes, count: c.docs.length }));
      for (const d of c.docs) await push(encodeFrame({ t: 'doc' }, d));
    }
    for (const r of retries) await push(encodeFrame({ t: 'retry', key: r.key, at: r.at }, r.reply));
    chunk.push(encodeFrame({ t: 'end', collections: colls.length, documents, retries: retries.length }));
    await h.write(Buffer.concat(chunk));
    await h.sync();
  } catch (err) {
    await h.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await h.close();
  await rename(tmp, file);
  await fsyncDir(dataDir);
}

/** Loads a snapshot into an empty store; returns the journal sequence it covers, or undefined when there is none. */
async function loadSnapshot(store: Store, dataDir: string): Promise<{ seq: number; legacy: boolean } | undefined> {
  const file = snapshotPath(dataDir);
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (buf.length >= MAGIC_SIZE && !buf.subarray(0, MAGIC_SIZE).equals(SNAPSHOT_MAGIC) && buf.length >= 5) {
    loadLegacySnapshot(store, buf, file);
    return { seq: 0, legacy: true };
  }
  const { frames } = readFrames(buf, file, SNAPSHOT_MAGIC, false);
  const header = frames[0]?.docs[0];
  if (!header || header.t !== 'header' || header.version !== 2) throw new CorruptFileError(file, MAGIC_SIZE, 'the snapshot header is missing');
  let colls = 0;
  let docs = 0;
  let retries = 0;
  let current: ReturnType<Store['ensureCollection']> | undefined;
  let expected = 0;
  let ended = false;
  for (const f of frames.slice(1)) {
    const meta = f.docs[0];
    if (ended) throw new CorruptFileError(file, f.offset, 'data after the end record');
    if (meta.t === 'coll') {
      if (current && expected !== 0) throw new CorruptFileError(file, f.offset, `collection ${current.ns} is missing ${expected} documents`);
      current = store.ensureCollection(meta.db as string, meta.name as string, meta.options as Document);
      for (const spec of meta.indexes as Document[]) current.addIndex(spec);
      expected = meta.count as number;
      colls++;
    } else if (meta.t === 'doc' && current && f.docs[1] && expected > 0) {
      current.insert(f.docs[1]);
      expected--;
      docs++;
    } else if (meta.t === 'retry' && f.docs[1] && expected === 0) {
      store.retries.set(meta.key as string, f.docs[1], meta.at as number);
      retries++;
    } else if (meta.t === 'end') {
      // Snapshots written before retry replies were kept have no count for them.
      const retriesOk = meta.retries === undefined ? retries === 0 : meta.retries === retries;
      if (expected !== 0 || !retriesOk || meta.collections !== colls || meta.documents !== docs || header.collections !== colls || header.documents !== docs) {
        throw new CorruptFileError(file, f.offset, `record counts do not match (read ${colls} collections and ${docs} documents)`);
      }
      ended = true;
    } else {
      throw new CorruptFileError(file, f.offset, `unexpected record '${String(meta.t)}'`);
    }
  }
  if (!ended) throw new CorruptFileError(file, buf.length, 'the end record is missing (the file was cut short)');
  return { seq: header.seq as number, legacy: false };
}

/** Version 1 snapshots (a bare BSON stream, no checksums) are read once and rewritten in the current format. */
function loadLegacySnapshot(store: Store, buf: Buffer, file: string): void {
  let offset = 0;
  let current: ReturnType<Store['ensureCollection']> | undefined;
  while (offset < buf.length) {
    const size = buf.length - offset >= 4 ? buf.readInt32LE(offset) : -1;
    if (size < 5 || offset + size > buf.length) throw new CorruptFileError(file, offset, 'the version 1 snapshot is truncated');
    let rec: Document;
    try {
      rec = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE_OPTIONS);
    } catch (err) {
      throw new CorruptFileError(file, offset, `invalid BSON (${(err as Error).message})`);
    }
    if (offset === 0 && (rec.t !== 'header' || rec.format !== LEGACY_FORMAT)) throw new CorruptFileError(file, 0, 'not an embedded-db snapshot');
    if (rec.t === 'coll') {
      current = store.ensureCollection(rec.db as string, rec.name as string);
      for (const spec of rec.indexes as Document[]) current.addIndex(spec);
    } else if (rec.t === 'doc' && current) {
      current.insert(rec.d as Document);
    }
    offset += size;
  }
}

/** Replays journal files in order; returns the last sequence number applied and how many records were replayed. */
async function replayJournals(store: Store, dataDir: string, gens: number[], afterSeq: number): Promise<{ seq: number; replayed: number }> {
  let seq = afterSeq;
  let replayed = 0;
  // Changes of a retryable write wait for its reply record ('rt'): without it the client was never answered.
  let held: { op: WriteOp; file: string; offset: number; s: number }[] = [];
  const apply = (op: WriteOp, file: string, offset: number, s: number): void => {
    try {
      store.replay(op);
    } catch (err) {
      throw new CorruptFileError(file, offset, `record ${s} cannot be replayed (${(err as Error).message})`);
    }
    replayed++;
  };
  for (const gen of gens) {
    const file = path.join(dataDir, journalFileName(gen));
    const buf = await readFile(file);
    // A crash can leave a file holding only part of its magic: nothing was ever acknowledged from it.
    if (buf.length < MAGIC_SIZE && JOURNAL_MAGIC.subarray(0, buf.length).equals(buf)) continue;
    const { frames } = readFrames(buf, file, JOURNAL_MAGIC, true);
    for (const f of frames) {
      const meta = f.docs[0];
      const s = meta.s as number;
      if (s <= seq) continue;
      if (s !== seq + 1) throw new CorruptFileError(file, f.offset, `journal record ${s} follows record ${seq}: records are missing`);
      const { s: _s, r, ...op } = meta;
      if (f.docs[1]) op.d = f.docs[1];
      seq = s;
      if (r) {
        held.push({ op: op as WriteOp, file, offset: f.offset, s });
        continue;
      }
      if (op.op === 'rt') for (const h of held) apply(h.op, h.file, h.offset, h.s);
      // Anything else after held changes means their write never finished; they stay out, as at the end.
      held = [];
      apply(op as WriteOp, file, f.offset, s);
    }
  }
  return { seq, replayed };
}

/** Deletes the journal files older than generation `before` (their records are all in the snapshot). */
async function removeJournals(dataDir: string, before: number): Promise<void> {
  for (const name of await readdir(dataDir)) {
    const g = journalGeneration(name);
    if (g !== undefined && g < before) await rm(path.join(dataDir, name), { force: true });
  }
  await fsyncDir(dataDir);
}

const lockedDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One server per data directory: a second one would interleave journal files. A lock left by a dead process is taken over. */
async function lockDir(dataDir: string): Promise<() => Promise<void>> {
  const dir = path.resolve(dataDir);
  const file = path.join(dir, LOCK_FILE);
  if (lockedDirs.has(dir)) throw new Error(`embedded-db: ${dir} is already in use by this process`);
  try {
    const pid = Number((await readFile(file, 'utf8')).trim());
    if (pid && pid !== process.pid && processAlive(pid)) throw new Error(`embedded-db: ${dir} is in use by process ${pid} (remove ${file} if that is wrong)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await writeFile(file, `${process.pid}\n`);
  lockedDirs.add(dir);
  return async () => {
    lockedDirs.delete(dir);
    await rm(file, { force: true });
  };
}

export interface PersistenceOptions {
  /** false: only a snapshot on clean stop, no journal (the behaviour before the journal; kill -9 loses everything since start). */
  journal?: boolean;
  /** Checkpoint at least this often while there are journaled changes (default 60 s, like mongod). */
  checkpointIntervalMs?: number;
  /** Checkpoint early once the journal holds this many bytes (default 64 MiB). */
  checkpointBytes?: number;
}

/** A store bound to a data directory: recovered on open, journaled while running, checkpointed on close. */
export class Persistence {
  private checkpointing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: Store,
    private readonly dataDir: string,
    readonly journal: Journal | undefined,
    private readonly unlock: () => Promise<void>,
    private readonly options: PersistenceOptions,
  ) {}

  /** Recovers the store (snapshot + journal replay) and starts journaling. Throws CorruptFileError on damaged files. */
  static async open(store: Store, dataDir: string, options: PersistenceOptions = {}): Promise<Persistence> {
    await mkdir(dataDir, { recursive: true });
    const unlock = await lockDir(dataDir);
    try {
      const snap = await loadSnapshot(store, dataDir);
      const gens = (await readdir(dataDir))
        .map(journalGeneration)
        .filter((g): g is number => g !== undefined)
        .sort((a, b) => a - b);
      let seq = snap?.seq ?? 0;
      let replayed = 0;
      if (options.journal !== false) ({ seq, replayed } = await replayJournals(store, dataDir, gens, seq));
      else if (gens.length > 0) throw new Error(`embedded-db: ${dataDir} has journal files; start with the journal on to recover them`);
      if (options.journal === false) return new Persistence(store, dataDir, undefined, unlock, options);
      const journal = await Journal.create(dataDir, (gens.at(-1) ?? 0) + 1, seq);
      const p = new Persistence(store, dataDir, journal, unlock, options);
      store.onWrite = (op) => {
        const { d, ...meta } = op as WriteOp & { d?: Document };
        journal.append(meta, d);
      };
      // Fold what was replayed (and any leftover files) into a fresh snapshot, so old journals can go.
      if (replayed > 0 || gens.length > 0 || snap?.legacy) await p.checkpoint();
      p.timer = setInterval(() => p.maybeCheckpoint(), Math.min(options.checkpointIntervalMs ?? 60_000, 1000));
      p.timer.unref();
      return p;
    } catch (err) {
      await unlock();
      throw err;
    }
  }

  private lastCheckpoint = Date.now();

  private maybeCheckpoint(): void {
    const j = this.journal;
    if (!j || j.failed || this.checkpointing || j.bytesSinceCheckpoint === 0) return;
    const due = Date.now() - this.lastCheckpoint >= (this.options.checkpointIntervalMs ?? 60_000);
    if (due || j.bytesSinceCheckpoint >= (this.options.checkpointBytes ?? 64 * 1024 * 1024)) {
      this.checkpoint().catch((err: unknown) => console.error(`embedded-db: checkpoint failed, the journal keeps every change (${(err as Error).message})`));
    }
  }

  /** Compacts the journal into a snapshot: rotate, capture, write the snapshot durably, then delete the old journal files. */
  checkpoint(): Promise<void> {
    this.checkpointing ??= (async () => {
      try {
        this.lastCheckpoint = Date.now();
        if (!this.journal) {
          await writeSnapshot(this.dataDir, capture(this.store), 0);
          return;
        }
        // After the rotation every record in older files is durable and older than what capture() sees.
        const gen = await this.journal.rotate();
        this.journal.bytesSinceCheckpoint = 0;
        const seq = this.journal.appendedSeq;
        await writeSnapshot(this.dataDir, capture(this.store), seq);
        await removeJournals(this.dataDir, gen);
      } finally {
        this.checkpointing = undefined;
      }
    })();
    return this.checkpointing;
  }

  /** Clean stop: flush, checkpoint, release the directory. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.store.onWrite = undefined;
    try {
      await this.checkpointing;
      if (!this.journal?.failed) {
        await this.checkpoint();
        await this.journal?.close();
        // The snapshot now holds everything, and nothing can be appended any more: no journal file is needed.
        await removeJournals(this.dataDir, Infinity);
      } else await this.journal.close().catch(() => undefined);
    } finally {
      await this.unlock();
    }
  }
}
