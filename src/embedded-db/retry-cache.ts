// Bounded memory of replies to retryable writes, keyed by session id + txnNumber, so a retried write is not applied twice.
import type { Document } from 'bson';

interface Entry {
  reply: Document;
  at: number;
}

export class RetryCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly ttlMs = 30 * 60 * 1000,
  ) {}

  get(key: string, now = Date.now()): Document | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now - e.at > this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.reply;
  }

  set(key: string, reply: Document, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { reply, at: now });
    // Map iteration order is insertion order, so the first keys are the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
