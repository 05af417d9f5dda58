// Yoga plugin for the Idempotency-Key header: claims the key before a mutation executes, stores the exact response
// it sends, and answers later requests with that key from the record instead of executing (docs/idempotency.md).
import { getOperationAST, GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { Db } from 'mongodb';
import type { Context } from '../context.js';
import { readEnv } from '../env.js';
import type { ErrorCode } from '../errors.js';
import { logger } from '../logger.js';
import { IDEMPOTENCY_KEY_HEADER, keyRecordId, keyScope, parseIdempotencyKey, requestFingerprint } from './idempotency-key.js';
import { claimKey, completeKey, newClaimToken, releaseKey, type StoredResponse } from './idempotency.ops.js';

/** Response header on every replayed answer (as Stripe does); the body and status are the stored ones, byte for byte. */
export const REPLAYED_HEADER = 'idempotent-replayed';

// Typed results that describe the moment, not the request: storing one would replay "try later" for 24 hours.
// A response carrying one gives its key back instead, so the retry executes.
const NOT_STORED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['RATE_LIMITED']);

// Larger answers are not stored (the key is given back); far above any mutation's response, far below 16 MB.
const MAX_STORED_BODY_BYTES = 1_000_000;

type Pending =
  | { kind: 'execution'; db: Db; id: string; claim: string; transient: boolean }
  | { kind: 'replay'; response: StoredResponse };

type RequestContext = Context & YogaInitialContext;

// Requests whose mutation resolved to a NOT_STORED_CODES result; filled by the resolver wrapper below.
const transientRequests = new WeakSet<Request>();
const wrappedSchemas = new WeakSet<GraphQLSchema>();

export function useIdempotencyKeys(): Plugin<Context> {
  const pending = new WeakMap<Request, Pending>();
  return {
    onExecute({ args, setResultAndStopExecution, extendContext }) {
      const ctx = args.contextValue as RequestContext;
      const header = ctx.request?.headers.get(IDEMPOTENCY_KEY_HEADER) ?? null;
      if (header === null) return;
      // Queries change nothing, so a key sent with one is ignored rather than refused.
      if (getOperationAST(args.document, args.operationName)?.operation !== 'mutation') return;
      const key = parseIdempotencyKey(header);
      if (key === null) {
        setResultAndStopExecution(refusal('VALIDATION', 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.', 400));
        return;
      }
      // One HTTP request, one stored answer: a batch (off by default in Yoga) cannot share one key.
      if (pending.has(ctx.request)) {
        setResultAndStopExecution(refusal('VALIDATION', 'An Idempotency-Key covers one operation; do not send it with a batch.', 400));
        return;
      }
      noteTransientResults(args.schema);
      const env = readEnv();
      const id = keyRecordId(keyScope(ctx.viewer), key);
      const claim = newClaimToken();
      const fingerprint = requestFingerprint(args.operationName, args.document, args.variableValues);
      const request = ctx.request;
      return claimKey(ctx.db, {
        id,
        fingerprint,
        claim,
        now: new Date(),
        leaseMs: env.IDEMPOTENCY_LEASE_SECONDS * 1000,
        ttlMs: env.IDEMPOTENCY_TTL_SECONDS * 1000,
      }).then(
        (claimed) => {
          switch (claimed.outcome) {
            case 'execute':
              pending.set(request, { kind: 'execution', db: ctx.db, id, claim, transient: false });
              extendContext({ idempotencyKey: claimed.effectKey });
              return;
            case 'replay':
              // Execution is skipped; onResponse swaps in the stored bytes for this placeholder.
              pending.set(request, { kind: 'replay', response: claimed.response });
              setResultAndStopExecution({ data: null });
              return;
            case 'in_progress':
              setResultAndStopExecution(
                refusal('IN_PROGRESS', 'A request with this Idempotency-Key is still being processed; retry it shortly.', 409, {
                  'retry-after': String(claimed.retryAfterSeconds),
                }),
              );
              return;
            case 'reused':
              setResultAndStopExecution(
                refusal(
                  'IDEMPOTENCY_KEY_REUSED',
                  'This Idempotency-Key was used for a different request (another operation or other variables); use a new key for a new request.',
                  422,
                ),
              );
              return;
          }
        },
        async (error: unknown) => {
          // The claim may have landed before the failure: give it back so the client's retry is not told IN_PROGRESS
          // for a whole lease. If the database is unreachable this fails too, and the lease runs out instead.
          await releaseKey(ctx.db, { id, claim }).catch(() => undefined);
          throw error;
        },
      );
    },

    onExecutionResult({ request, result }) {
      const entry = pending.get(request);
      if (entry?.kind !== 'execution' || result === undefined || Symbol.asyncIterator in result) return;
      // Masked errors (a database failure, a bug) may pass; the retry should execute, not replay them.
      const results = Array.isArray(result) ? result : [result];
      const unexpected = results.some((r) => r.errors?.some((e: GraphQLError) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || e.extensions?.unexpected));
      if (unexpected || transientRequests.has(request)) entry.transient = true;
    },

    async onResponse({ request, response, setResponse, fetchAPI }) {
      const entry = pending.get(request);
      if (!entry) return;
      pending.delete(request);
      if (entry.kind === 'replay') {
        setResponse(storedToResponse(entry.response, response.headers, fetchAPI));
        return;
      }
      // The answer is stored before it is sent: a serverless instance may be frozen the moment it has responded.
      const body = await response.text();
      const contentType = response.headers.get('content-type') ?? 'application/json; charset=utf-8';
      setResponse(new fetchAPI.Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }));
      try {
        if (entry.transient || response.status >= 500 || Buffer.byteLength(body) > MAX_STORED_BODY_BYTES) {
          await releaseKey(entry.db, { id: entry.id, claim: entry.claim });
        } else if (!(await completeKey(entry.db, { id: entry.id, claim: entry.claim, response: { status: response.status, contentType, body } }))) {
          // Another request took the key over (this one outlived its lease); its answer is the one kept.
          logger.warn({ key: entry.id }, 'idempotency key taken over before its answer was stored');
        }
      } catch (error) {
        // The client still gets this answer. Its retry finds the key in progress, takes it over once the lease ends and
        // executes again; the mutations recognize their own effect by the effectKey, so nothing is applied twice.
        logger.error({ err: error, key: entry.id }, 'could not store the idempotent answer');
      }
    },
  };
}

function storedToResponse(stored: StoredResponse, current: Headers, fetchAPI: { Response: typeof Response }): Response {
  // Headers of this request's own response (CORS, request id) are kept; the body, its type and the status are replayed.
  const headers = new Headers(current);
  headers.delete('content-length');
  headers.set('content-type', stored.contentType);
  headers.set(REPLAYED_HEADER, 'true');
  return new fetchAPI.Response(stored.body, { status: stored.status, headers });
}

function refusal(code: ErrorCode, message: string, status: number, headers?: Record<string, string>): ExecutionResult {
  return { errors: [new GraphQLError(message, { extensions: { code, http: { status, ...(headers ? { headers } : {}) } } })] };
}

/**
 * Typed results are data, invisible in the response when the client selected no field of them; so each mutation
 * resolver is wrapped once to note when its result is a NOT_STORED_CODES error (Pothos hands those back as values).
 */
function noteTransientResults(schema: GraphQLSchema): void {
  if (wrappedSchemas.has(schema)) return;
  wrappedSchemas.add(schema);
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    const resolve = field.resolve;
    if (!resolve) continue;
    field.resolve = async (source, args, ctx: RequestContext, info) => {
      const value: unknown = await resolve(source, args, ctx, info);
      // Not instanceof: Pothos hands typed errors back wrapped in a Proxy whose prototype chain is proxied too.
      const code = typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
      if (typeof code === 'string' && NOT_STORED_CODES.has(code as ErrorCode) && ctx.request) transientRequests.add(ctx.request);
      return value;
    };
  }
}
