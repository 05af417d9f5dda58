// The async iterator a subscription returns: values pushed by the change feed, read by GraphQL at the client's pace.
// (Repeater, which graphql-yoga re-exports, would do the same at 6 kB of the 1.2 MB function budget; this is 0.5 kB.)

/** A queue that is also an AsyncIterableIterator; end() finishes it (after what is queued), with an error if given. */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;
  private ended = false;
  private error: unknown;

  /** `onEnd` runs once, however the queue ends: end(), or return() when GraphQL or the client stops reading. */
  constructor(private onEnd?: () => void) {}

  get size(): number {
    return this.items.length;
  }

  push(value: T): void {
    if (this.ended) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.resolve({ value, done: false });
    else this.items.push(value);
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = error;
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) this.settle(waiter);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.ended) return new Promise((resolve, reject) => this.settle({ resolve, reject }));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The end as a reader sees it: the error once, then done. */
  private settle(waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void }): void {
    const error = this.error;
    this.error = undefined;
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }
}
