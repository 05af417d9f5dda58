// Write-ahead journal: one framed, checksummed record per applied change, appended and fsynced in groups.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Document } from 'bson';
import { encodeFrame } from './frames.js';

export const JOURNAL_MAGIC = Buffer.from('EDBJRN01', 'latin1');
const JOURNAL_PREFIX = 'embedded-db.journal.';

export function journalFileName(gen: number): string {
  return `${JOURNAL_PREFIX}${String(gen).padStart(6, '0')}`;
}

/** Generation number of a journal file name, or undefined for other files. */
export function journalGeneration(name: string): number | undefined {
  if (!name.startsWith(JOURNAL_PREFIX)) return undefined;
  const n = Number(name.slice(JOURNAL_PREFIX.length));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** fsync of a directory makes a created, renamed or deleted entry in it durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Appends are synchronous (they happen inside a command); one background loop writes everything pending with a
 * single write + fdatasync, then releases every waiter whose record was in that group (group commit).
 */
export class Journal {
  /** Sequence number of the last appended record (records are numbered from 1, continuing across files). */
  appendedSeq: number;
  /** Sequence number of the last record known to be on disk. */
  durableSeq: number;
  /** Bytes written to journal files since the last checkpoint started. */
  bytesSinceCheckpoint = 0;
  failed: Error | undefined;
  private pending: Buffer[] = [];
  private waiters: Waiter[] = [];
  private running = false;
  private rotateWaiters: { resolve: (gen: number) => void; reject: (err: Error) => void }[] = [];
  private handle: FileHandle | undefined;

  private constructor(
    readonly dir: string,
    public gen: number,
    seq: number,
  ) {
    this.appendedSeq = seq;
    this.durableSeq = seq;
  }

  /** Creates journal file `gen` (continuing after record `seq`) and makes its directory entry durable. */
  static async create(dir: string, gen: number, seq: number): Promise<Journal> {
    const j = new Journal(dir, gen, seq);
    j.handle = await j.openFile(gen);
    return j;
  }

  private async openFile(gen: number): Promise<FileHandle> {
    const h = await open(path.join(this.dir, journalFileName(gen)), 'wx');
    await h.write(JOURNAL_MAGIC);
    await h.datasync();
    await fsyncDir(this.dir);
    return h;
  }

  /** Records one change; it becomes durable with the next group commit. */
  append(meta: Document, doc?: Document): void {
    if (this.failed) throw this.failed;
    const seq = ++this.appendedSeq;
    this.pending.push(encodeFrame({ s: seq, ...meta }, doc));
    this.kick();
  }

  /** Resolves once every record up to `seq` is on disk; rejects if the journal cannot be written. */
  waitDurable(seq: number): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      this.kick();
    });
  }

  /** Waits for everything appended so far. */
  flush(): Promise<void> {
    return this.waitDurable(this.appendedSeq);
  }

  /** Closes the current file once its records are durable and continues in a new one; resolves with its generation. */
  rotate(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.rotateWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle?.close();
    this.handle = undefined;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Started on a microtask so every append from the current batch of socket data joins the first group.
    queueMicrotask(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.length > 0 || this.rotateWaiters.length > 0) {
        if (this.pending.length > 0) {
          const batch = this.pending;
          const upto = this.appendedSeq;
          this.pending = [];
          const data = batch.length === 1 ? batch[0] : Buffer.concat(batch);
          await this.handle!.write(data);
          await this.handle!.datasync();
          this.bytesSinceCheckpoint += data.length;
          this.durableSeq = upto;
          this.release();
          continue;
        }
        const rotations = this.rotateWaiters;
        this.rotateWaiters = [];
        await this.handle!.close();
        this.handle = await this.openFile(this.gen + 1);
        this.gen += 1;
        for (const r of rotations) r.resolve(this.gen);
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.running = false;
    }
    // Waiters registered for records that were already durable when the loop ended.
    this.release();
  }

  private release(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.durableSeq) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private fail(err: Error): void {
    this.failed = new Error(`embedded-db: journal write failed, no further writes are accepted (${err.message})`);
    for (const w of this.waiters) w.reject(this.failed);
    for (const r of this.rotateWaiters) r.reject(this.failed);
    this.waiters = [];
    this.rotateWaiters = [];
    this.pending = [];
  }
}
