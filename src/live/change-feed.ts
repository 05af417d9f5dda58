// One MongoDB change stream per function instance, fanned out to the instance's subscribers, with resumption from a
// subscriber's last event id (the stream's resume token) on any instance: docs/live.md.
import type { ChangeStream, ChangeStreamDocument, Db, Document } from 'mongodb';

/** A change as subscribers get it: `id` is the resume token's `_data`, the SSE event id. */
export interface FeedEvent {
  id: string;
  change: ChangeStreamDocument;
}

export interface FeedListener {
  next(event: FeedEvent): void;
  /** The feed cannot go on for this subscriber (its stream failed, or its resume point is gone). */
  fail(error: unknown): void;
}

interface Subscriber {
  listener: FeedListener;
  /** Receives the shared stream's events as they come; false while it catches up on its own stream. */
  live: boolean;
  closed: boolean;
  /** The last event it was given (or its resume point): where the catch-up meets the shared stream. */
  lastSeen?: string;
  catchUp?: ChangeStream;
}

/** The collections subscriptions read, and the changes that matter to them. */
const PIPELINE: Document[] = [{ $match: { 'ns.coll': { $in: ['posts', 'packages'] }, operationType: { $in: ['insert', 'update', 'replace'] } } }];
/** How many recent events a feed keeps so a reconnecting subscriber resumes from memory instead of its own stream. */
const BUFFER_EVENTS = 2000;
/** How long an idle getMore waits on the server: also how soon a closed stream notices. */
const MAX_AWAIT_MS = 1000;

/** A resume token's `_data`: a hex string on MongoDB 4.2+ (and in the embedded database). */
export function eventIdOf(token: unknown): string {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof data !== 'string') throw new Error('change stream resume token without _data');
  return data;
}

/** Event ids as clients send them back in Last-Event-ID: a token's hex `_data`, nothing else. */
export const EVENT_ID_PATTERN = /^[0-9A-Fa-f]{2,1024}$/;

/**
 * The shared change stream of one database in this instance. It opens with the first subscriber and closes when the
 * last one leaves. A subscriber that resumes from an event still in the buffer is replayed from memory; an older one
 * reads its own stream (startAfter its event) until that stream reaches an event the shared one has, then joins the
 * shared stream: every event once, in order, and no stream per subscriber beyond the catch-up.
 */
export class ChangeFeed {
  private stream: ChangeStream | undefined;
  private opened: Promise<void> | undefined;
  private readonly subscribers = new Set<Subscriber>();
  private buffer: FeedEvent[] = [];
  private readonly positions = new Map<string, number>();
  private base = 0;
  /** Change streams opened so far: shared ones and per-subscriber catch-ups (for tests and logs). */
  readonly opens = { shared: 0, catchUp: 0 };

  constructor(private db: Db) {}

  /** A feed outlives a closed client (tests, dev reloads): with no stream open it follows the caller's handle. */
  rebind(db: Db): void {
    if (!this.stream) this.db = db;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Resolves once the shared stream is open on the server: changes after this are delivered. */
  ready(): Promise<void> {
    return this.opened ?? Promise.resolve();
  }

  /** Starts delivering to `listener`: from `afterId` when given (exclusive), else from now. Returns the unsubscribe. */
  subscribe(afterId: string | undefined, listener: FeedListener): () => void {
    const sub: Subscriber = { listener, live: afterId === undefined, closed: false, lastSeen: afterId };
    this.subscribers.add(sub);
    this.open();
    if (afterId !== undefined) {
      if (this.positions.has(afterId)) this.join(sub, afterId);
      else void this.catchUp(sub, afterId);
    }
    return () => this.leave(sub);
  }

  private open(): void {
    if (this.stream) return;
    const stream = this.db.watch(PIPELINE, { maxAwaitTimeMS: MAX_AWAIT_MS });
    this.stream = stream;
    this.opens.shared++;
    this.opened = new Promise((resolve) => {
      // The first token arrives with the aggregate's answer (its postBatchResumeToken): the stream is open from there.
      stream.once('resumeTokenChanged', () => resolve());
      stream.once('close', () => resolve());
    });
    void this.pump(stream);
  }

  private async pump(stream: ChangeStream): Promise<void> {
    try {
      for await (const change of stream) {
        if (this.stream !== stream) return;
        this.append({ id: eventIdOf(change._id), change });
      }
    } catch (error) {
      // Not resumable by the driver (it resumes network errors itself): every subscriber reconnects with its last id.
      if (this.stream !== stream) return;
      this.reset();
      for (const sub of this.subscribers) sub.listener.fail(error);
      this.subscribers.clear();
    }
  }

  private append(event: FeedEvent): void {
    this.buffer.push(event);
    this.positions.set(event.id, this.base + this.buffer.length - 1);
    if (this.buffer.length > BUFFER_EVENTS) {
      this.positions.delete(this.buffer.shift()!.id);
      this.base++;
    }
    for (const sub of this.subscribers) {
      if (sub.live) sub.listener.next(event);
      // Its catch-up stream already gave it this event: from here on the shared stream has everything it needs.
      else if (sub.lastSeen === event.id) this.join(sub, event.id);
    }
  }

  /** Replays what the buffer holds after `afterId` and makes the subscriber live, in one synchronous step. */
  private join(sub: Subscriber, afterId: string): void {
    const at = this.positions.get(afterId)! - this.base;
    for (let i = at + 1; i < this.buffer.length; i++) sub.listener.next(this.buffer[i]!);
    sub.live = true;
    const catchUp = sub.catchUp;
    sub.catchUp = undefined;
    void catchUp?.close();
  }

  private async catchUp(sub: Subscriber, afterId: string): Promise<void> {
    const stream = this.db.watch(PIPELINE, { startAfter: { _data: afterId }, maxAwaitTimeMS: MAX_AWAIT_MS });
    sub.catchUp = stream;
    this.opens.catchUp++;
    try {
      for await (const change of stream) {
        if (sub.live || sub.closed) return;
        const id = eventIdOf(change._id);
        sub.listener.next({ id, change });
        sub.lastSeen = id;
        if (this.positions.has(id)) return this.join(sub, id);
      }
    } catch (error) {
      if (!sub.live && !sub.closed) sub.listener.fail(error);
    } finally {
      if (sub.catchUp === stream) sub.catchUp = undefined;
      await stream.close().catch(() => undefined);
    }
  }

  private leave(sub: Subscriber): void {
    sub.closed = true;
    void sub.catchUp?.close().catch(() => undefined);
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0) this.reset();
  }

  /** Closes the shared stream; its buffer goes too, since a later stream would not continue it without a gap. */
  private reset(): void {
    const stream = this.stream;
    this.stream = undefined;
    this.opened = undefined;
    this.buffer = [];
    this.positions.clear();
    this.base = 0;
    void stream?.close().catch(() => undefined);
  }
}

const feeds = new Map<string, ChangeFeed>();

/** This instance's feed of `db`, created on first use (its stream opens with its first subscriber). */
export function changeFeedOf(db: Db): ChangeFeed {
  let feed = feeds.get(db.databaseName);
  if (!feed) {
    feed = new ChangeFeed(db);
    feeds.set(db.databaseName, feed);
  }
  feed.rebind(db);
  return feed;
}
