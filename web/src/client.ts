// The page's GraphQL client: urql sending only the generated documents, by hash (GET for queries, so the CDN can
// cache them), retrying a failed request as it was sent, Idempotency-Key included; subscriptions over SSE that
// reconnect from their last event id.
import { Client, fetchExchange, type AnyVariables, type TypedDocumentNode } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { retryExchange } from '@urql/exchange-retry';
import { createParser } from 'eventsource-parser';
import { onEnd, pipe, subscribe } from 'wonka';

const TOKEN_KEY = 'registry-token';

export const getToken = (): string => localStorage.getItem(TOKEN_KEY) ?? '';
export const setToken = (token: string): void => (token ? localStorage.setItem(TOKEN_KEY, token) : localStorage.removeItem(TOKEN_KEY));

/** Headers of one request: the CSRF header Yoga asks of GETs, the token when signed in, and any extra (a key). */
function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return { 'x-graphql-yoga-csrf': '1', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

/** The hash npm run codegen put in the document: the page never sends a query text, so PERSISTED_OPERATIONS=strict serves it. */
const generatedHash = async (_query: string, document: unknown) => (document as { __meta__?: { hash?: string } }).__meta__?.hash ?? '';

export const client = new Client({
  url: '/api/graphql',
  requestPolicy: 'network-only',
  exchanges: [
    // A network failure (the answer lost on the way) is retried with the very same operation, so the same headers.
    retryExchange({ initialDelayMs: 200, maxDelayMs: 2_000, maxNumberAttempts: 4, retryIf: (error) => Boolean(error.networkError) }),
    persistedExchange({ enforcePersistedQueries: true, preferGetForPersistedQueries: true, enableForMutation: true, enableForSubscriptions: true, generateHash: generatedHash }),
    fetchExchange,
  ],
  fetchOptions: () => ({ headers: headers() }),
});

export function query<Data, Variables extends AnyVariables>(document: TypedDocumentNode<Data, Variables>, variables: Variables) {
  return client.query(document, variables, { fetchOptions: () => ({ headers: headers() }) }).toPromise();
}

/** One tap, one key: every attempt of this mutation (the retries) carries the same Idempotency-Key. */
export function mutate<Data, Variables extends AnyVariables>(document: TypedDocumentNode<Data, Variables>, variables: Variables) {
  const fetchOptions = { headers: headers({ 'idempotency-key': crypto.randomUUID() }) };
  return client.mutation(document, variables, { fetchOptions }).toPromise();
}

const RECONNECT_MS = 1_000;

/**
 * fetch for one subscription: hands urql the response untouched and reads a copy of the stream for the SSE `id:`
 * lines (the change stream's resume token), which urql does not expose.
 */
function trackingEventIds(state: { lastEventId?: string }): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
    const [forUrql, forIds] = response.body.tee();
    const parser = createParser({ onEvent: (event) => void (event.id && (state.lastEventId = event.id)) });
    void forIds
      .pipeThrough(new TextDecoderStream())
      .pipeTo(new WritableStream({ write: (chunk) => parser.feed(chunk) }))
      .catch(() => undefined);
    return new Response(forUrql, response);
  };
}

/**
 * A live subscription (GraphQL over SSE). The server ends each response before the function's time limit; the client
 * then reconnects with Last-Event-ID, the id of the last event it got, so it continues without a gap or a duplicate.
 * Returns the function that stops it.
 */
export function live<Data, Variables extends AnyVariables>(document: TypedDocumentNode<Data, Variables>, variables: Variables, onData: (data: Data) => void): () => void {
  const state: { lastEventId?: string } = {};
  let stopped = false;
  let current: { unsubscribe(): void } | undefined;
  const connect = () => {
    const source = client.subscription(document, variables, {
      fetchSubscriptions: true,
      fetch: trackingEventIds(state),
      fetchOptions: () => ({ headers: headers(state.lastEventId ? { 'last-event-id': state.lastEventId } : {}) }),
    });
    current = pipe(
      source,
      onEnd(() => {
        if (!stopped) setTimeout(connect, RECONNECT_MS);
      }),
      subscribe((result) => {
        if (result.data) onData(result.data);
      }),
    );
  };
  connect();
  return () => {
    stopped = true;
    current?.unsubscribe();
  };
}
