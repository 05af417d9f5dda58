// Bounded memory of replies to retryable writes, keyed by session id + txnNumber, so a retried write is not applied twice (journaled and checkpointed by the store with a data directory).
import type { Document } from 'bson';

interface Entry {
  reply: Document;
  at: number;
}

export class RetryCache {
  private readonly byKey = new Map<string, Entry>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly ttlMs = 30 * 60 * 1000,
  ) {}

  get(key: string, now = Date.now()): Document | undefined {
    const e = this.byKey.get(key);
    if (!e) return undefined;
    if (now - e.at > this.ttlMs) {
      this.byKey.delete(key);
      return undefined;
    }
    return e.reply;
  }

  set(key: string, reply: Document, now = Date.now()): void {
    this.byKey.delete(key);
    this.byKey.set(key, { reply, at: now });
    // Map iteration order is insertion order, so the first keys are the oldest.
    while (this.byKey.size > this.maxEntries) {
      const oldest = this.byKey.keys().next().value;
      if (oldest === undefined) break;
      this.byKey.delete(oldest);
    }
  }

  /** Live entries, oldest first (what a checkpoint keeps, so a retry after a restart still finds its reply). */
  *entries(now = Date.now()): Generator<{ key: string; reply: Document; at: number }> {
    for (const [key, e] of this.byKey) if (now - e.at <= this.ttlMs) yield { key, reply: e.reply, at: e.at };
  }

  get size(): number {
    return this.byKey.size;
  }
}
