// Subscriptions over Server-Sent Events with resumable ids: each event carries its change stream resume token as the
// SSE `id`, and a response ends cleanly before the function's maxDuration so the client reconnects (docs/live.md).
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';
import { streamLifetimeMs } from './stream-lifetime.js';

/** The event id of the result being produced, set by the subscription's resolver, keyed by the request's context. */
const pendingIds = new WeakMap<object, string>();
const EVENT_ID = 'liveEventId';

/** Called by a subscription resolver: the result it is producing is the event with this id. */
export function markEventId(context: object, id: string | undefined): void {
  if (id === undefined) pendingIds.delete(context);
  else pendingIds.set(context, id);
}

/** The client's resume point: the Last-Event-ID header (EventSource and fetch-based clients send it on reconnect). */
export function lastEventIdOf(request: Request): string | undefined {
  const value = request.headers.get('last-event-id')?.trim();
  return value ? value : undefined;
}

export function useLiveEvents(): Plugin {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as object;
      return {
        onSubscribeResult() {
          return {
            onNext({ result, setResult }) {
              const id = pendingIds.get(context);
              if (id === undefined) return;
              pendingIds.delete(context);
              setResult({ ...result, extensions: { ...result.extensions, [EVENT_ID]: id } });
            },
          };
        },
      };
    },
    onResultProcess({ request, result, setResultProcessor }) {
      if (!isAsyncIterable(result)) return;
      if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) return;
      setResultProcessor((r) => sseResponse(r as AsyncIterable<ExecutionResult>, request.signal), 'text/event-stream');
    },
  };
}

const PING_MS = 12_000;

/** An error as clients see it: yoga's internal extensions (http status, unexpected) stay on the server. */
function publicError(error: GraphQLError): GraphQLFormattedError {
  const { http: _http, unexpected: _unexpected, ...extensions } = (error.toJSON().extensions ?? {}) as Record<string, unknown>;
  return { ...error.toJSON(), extensions: Object.keys(extensions).length > 0 ? extensions : undefined };
}

/**
 * GraphQL over SSE as yoga writes it ("next" events, "complete" at the end, comment pings), plus `id:` lines and a
 * deadline: when the stream's lifetime is up it closes without "complete", which tells the client to reconnect (with
 * Last-Event-ID) rather than that the subscription is over.
 */
function sseResponse(result: AsyncIterable<ExecutionResult>, signal: AbortSignal | undefined): Response {
  const encoder = new TextEncoder();
  const iterator = result[Symbol.asyncIterator]();
  let ping: ReturnType<typeof setInterval> | undefined;
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  /** Marks the stream closed and stops its timers; false when it was closed already. */
  const stop = (): boolean => {
    if (closed) return false;
    closed = true;
    clearInterval(ping);
    clearTimeout(deadline);
    return true;
  };
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>, tail: string): void => {
    if (!stop()) return;
    controller.enqueue(encoder.encode(tail));
    controller.close();
    void iterator.return?.();
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // The first bytes flush the headers (some clients wait for a body chunk); `retry` is the reconnect delay.
      controller.enqueue(encoder.encode('retry: 1000\n:\n\n'));
      ping = setInterval(() => {
        if (!closed && (controller.desiredSize ?? 0) > 0) controller.enqueue(encoder.encode(':\n\n'));
      }, PING_MS);
      deadline = setTimeout(() => finish(controller, ': reconnect\n\n'), streamLifetimeMs());
      // A client that went away: stop at once, so the subscriber leaves the feed (not at the next ping's failed write).
      signal?.addEventListener('abort', () => {
        if (stop()) void iterator.return?.();
      });
    },
    async pull(controller) {
      let next: IteratorResult<ExecutionResult>;
      try {
        next = await iterator.next();
      } catch (error) {
        if (stop()) controller.error(error);
        return;
      }
      if (closed) return;
      if (next.value != null) {
        const { [EVENT_ID]: id, http: _http, ...extensions } = (next.value.extensions ?? {}) as Record<string, unknown>;
        const value = {
          ...next.value,
          errors: next.value.errors?.map(publicError),
          extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
        };
        const idLine = typeof id === 'string' ? `id: ${id}\n` : '';
        controller.enqueue(encoder.encode(`${idLine}event: next\ndata: ${JSON.stringify(value)}\n\n`));
      }
      if (next.done) finish(controller, 'event: complete\ndata:\n\n');
    },
    cancel() {
      stop();
      return iterator.return?.().then(() => undefined);
    },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'content-encoding': 'none' },
  });
}
