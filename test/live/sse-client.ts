// A GraphQL-over-SSE client for tests: POSTs a subscription with Accept: text/event-stream, parses the stream with
// eventsource-parser, and can resume with Last-Event-ID like EventSource does on reconnect.
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export interface LiveMessage {
  /** The SSE id (the change stream resume token), absent on a snapshot. */
  id?: string;
  data?: Record<string, any>;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface LiveConnection {
  status: number;
  /** The next `next` event; null when the stream ended ("complete" or the server closed it). */
  next(): Promise<LiveMessage | null>;
  /** True once the server sent "complete" (the subscription is over, not merely the response). */
  readonly completed: boolean;
  /** Drops the connection from the client side, mid-stream, as a lost network would. */
  abort(): void;
}

export async function subscribe(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  options: { lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<LiveConnection> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const queue: (LiveMessage | null)[] = [];
  const waiters: ((m: LiveMessage | null) => void)[] = [];
  let completed = false;
  const emit = (m: LiveMessage | null) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else queue.push(m);
  };
  const parser = createParser({
    onEvent(message: EventSourceMessage) {
      if (message.event === 'complete') {
        completed = true;
        return;
      }
      if (message.event !== 'next') return;
      const body = JSON.parse(message.data) as Omit<LiveMessage, 'id'>;
      emit({ ...(message.id ? { id: message.id } : {}), ...body });
    },
  });
  void (async () => {
    try {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted: the stream just ends
    }
    emit(null);
  })();
  return {
    status: response.status,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    get completed() {
      return completed;
    },
    abort: () => controller.abort(),
  };
}
