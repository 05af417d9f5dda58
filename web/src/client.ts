// The page's GraphQL client: urql sending only the generated documents, by hash (GET for queries, so the CDN can
// cache them), retrying a failed request as it was sent, Idempotency-Key included.
import { Client, fetchExchange, type AnyVariables, type TypedDocumentNode } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { retryExchange } from '@urql/exchange-retry';

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
    persistedExchange({ enforcePersistedQueries: true, preferGetForPersistedQueries: true, enableForMutation: true, generateHash: generatedHash }),
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
