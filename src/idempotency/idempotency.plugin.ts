// Yoga plugin for the Idempotency-Key header (docs/idempotency.md). The key is claimed lazily, by the first mutation
// field that has passed sign-in, its rate limit and its input validation (src/mutation-kit.ts asks for it), so a
// request refused before any effect stores nothing. The exact response sent is stored, and later requests with the key
// get it back instead of executing. Each mutation field gets its own effect key derived from the request's.
import { createHash } from 'node:crypto';
import { getOperationAST, GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import type { Db } from 'mongodb';
import type { Context } from '../context.js';
import { readEnv } from '../env.js';
import type { ErrorCode } from '../errors.js';
import { logger } from '../logger.js';
import { IDEMPOTENCY_KEY_HEADER, keyRecordId, keyScope, MAX_VARIABLE_DEPTH, parseIdempotencyKey, requestFingerprint, variablesDepthExceeds } from './idempotency-key.js';
import { claimKey, completeKey, newClaimToken, releaseKey, type StoredResponse } from './idempotency.ops.js';

/** Response header on every replayed answer (as Stripe does); the body and status are the stored ones, byte for byte. */
export const REPLAYED_HEADER = 'idempotent-replayed';

// Typed results that describe the moment, not the request: storing one would replay "try later" for 24 hours.
// A response carrying one gives its key back instead, so the retry executes.
const NOT_STORED_CODES: ReadonlySet<string> = new Set<ErrorCode>(['RATE_LIMITED']);

// Larger answers are not stored (the key is given back); far above any mutation's response, far below 16 MB.
const MAX_STORED_BODY_BYTES = 1_000_000;

/** What a mutation field gets from the request's key: null without a header, else this field's own effect key. */
export type EffectKeyClaim = (fieldKey: string) => Promise<string | null>;

type Pending =
  | { kind: 'execution'; db: Db; id: string; claim: string; transient: boolean; typedErrorCodes: readonly string[] }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'refusal'; result: ExecutionResult };

type RequestContext = Context & YogaInitialContext;

/** Thrown into the field that asked for the key when the request must not execute; onResponse answers instead. */
class ClaimRefused extends GraphQLError {}

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
      // The fingerprint walks the variables; a value nested deeper than any input type is refused before that walk.
      if (variablesDepthExceeds(args.variableValues, MAX_VARIABLE_DEPTH)) {
        setResultAndStopExecution(refusal('VALIDATION', `Variables are nested deeper than ${MAX_VARIABLE_DEPTH} levels; no input of this API is.`, 400));
        return;
      }
      const id = keyRecordId(keyScope(ctx.viewer), key);
      const fingerprint = requestFingerprint(args.operationName, args.document, args.variableValues);
      let claimed: Promise<string> | undefined;
      const claimOnce = (): Promise<string> => {
        claimed ??= claimFor(ctx, id, fingerprint, pending);
        return claimed;
      };
      const effectKeyFor: EffectKeyClaim = async (fieldKey) => fieldEffectKey(await claimOnce(), fieldKey);
      extendContext({ effectKeyFor });
    },

    onExecutionResult({ request, result }) {
      const entry = pending.get(request);
      if (entry?.kind !== 'execution' || result === undefined || Symbol.asyncIterator in result) return;
      // Masked errors (a database failure, a bug) may pass; the retry should execute, not replay them.
      const results = Array.isArray(result) ? result : [result];
      const unexpected = results.some((r) => r.errors?.some((e: GraphQLError) => e.extensions?.code === 'INTERNAL_SERVER_ERROR' || e.extensions?.unexpected));
      if (unexpected) entry.transient = true;
    },

    // Not async: a request without a pending key (nearly all) returns at once instead of through a promise.
    onResponse({ request, response, setResponse, fetchAPI }) {
      const entry = pending.get(request);
      if (!entry) return;
      pending.delete(request);
      if (entry.kind === 'replay') {
        setResponse(storedToResponse(entry.response, response.headers, fetchAPI));
        return;
      }
      if (entry.kind === 'refusal') {
        setResponse(refusalToResponse(entry.result, response.headers, fetchAPI));
        return;
      }
      return storeAnswer(entry, response, setResponse, fetchAPI);
    },
  };
}

/** Stores the answer of an executed keyed request (or gives its key back) before it is sent. */
async function storeAnswer(
  entry: Extract<Pending, { kind: 'execution' }>,
  response: Response,
  setResponse: (response: Response) => void,
  fetchAPI: { Response: typeof Response },
): Promise<void> {
  // The answer is stored before it is sent: a serverless instance may be frozen the moment it has responded.
  const body = await response.text();
  const contentType = response.headers.get('content-type') ?? 'application/json; charset=utf-8';
  setResponse(new fetchAPI.Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }));
  try {
    // Typed results are data, invisible when the client selected none of their fields: the context's list has them.
    const momentary = entry.typedErrorCodes.some((code) => NOT_STORED_CODES.has(code));
    if (entry.transient || momentary || response.status >= 500 || Buffer.byteLength(body) > MAX_STORED_BODY_BYTES) {
      await releaseKey(entry.db, { id: entry.id, claim: entry.claim });
    } else if (!(await completeKey(entry.db, { id: entry.id, claim: entry.claim, response: { status: response.status, contentType, body } }))) {
      // Another request took the key over (this one outlived its lease); its answer is the one kept.
      logger.warn({ key: entry.id }, 'idempotency key taken over before its answer was stored');
    }
  } catch (error) {
    // The client still gets this answer. Its retry finds the key in progress, takes it over once the lease ends and
    // executes again; the mutations recognize their own effect by the effect key, so nothing is applied twice.
    logger.error({ err: error, key: entry.id }, 'could not store the idempotent answer');
  }
}

/** Claims the request's key; resolves to its effect key, or throws ClaimRefused after arranging the answer. */
async function claimFor(ctx: RequestContext, id: string, fingerprint: string, pending: WeakMap<Request, Pending>): Promise<string> {
  const { db, request } = ctx;
  const env = readEnv();
  const claim = newClaimToken();
  let claimed;
  try {
    claimed = await claimKey(db, { id, fingerprint, claim, leaseMs: env.IDEMPOTENCY_LEASE_SECONDS * 1000, ttlMs: env.IDEMPOTENCY_TTL_SECONDS * 1000 });
  } catch (error) {
    // The claim may have landed before the failure: give it back so the client's retry is not told IN_PROGRESS
    // for a whole lease. If the database is unreachable this fails too, and the lease runs out instead.
    await releaseKey(db, { id, claim }).catch(() => undefined);
    throw error;
  }
  switch (claimed.outcome) {
    case 'execute':
      pending.set(request, { kind: 'execution', db, id, claim, transient: false, typedErrorCodes: ctx.typedErrorCodes });
      return claimed.effectKey;
    case 'replay':
      pending.set(request, { kind: 'replay', response: claimed.response });
      throw new ClaimRefused('Replayed.');
    case 'in_progress':
      return refuse(
        pending,
        request,
        refusal('IN_PROGRESS', 'A request with this Idempotency-Key is still being processed; retry it shortly.', 409, {
          'retry-after': String(claimed.retryAfterSeconds),
        }),
      );
    case 'reused':
      return refuse(
        pending,
        request,
        refusal(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used for a different request (another operation or other variables); use a new key for a new request.',
          422,
        ),
      );
  }
}

function refuse(pending: WeakMap<Request, Pending>, request: Request, result: ExecutionResult): never {
  pending.set(request, { kind: 'refusal', result });
  throw new ClaimRefused(result.errors![0]!.message);
}

/** Each mutation field's own effect key: two fields of one request never share an effect, and a retry gets the same. */
function fieldEffectKey(requestEffectKey: string, fieldKey: string): string {
  return createHash('sha256').update(`${requestEffectKey}\u0000${fieldKey}`).digest('base64url').slice(0, 32);
}

function storedToResponse(stored: StoredResponse, current: Headers, fetchAPI: { Response: typeof Response }): Response {
  // Headers of this request's own response (CORS, request id) are kept; the body, its type and the status are replayed.
  const headers = new Headers(current);
  headers.delete('content-length');
  headers.set('content-type', stored.contentType);
  headers.set(REPLAYED_HEADER, 'true');
  return new fetchAPI.Response(stored.body, { status: stored.status, headers });
}

function refusalToResponse(result: ExecutionResult, current: Headers, fetchAPI: { Response: typeof Response }): Response {
  const error = result.errors![0]!;
  const http = error.extensions.http as { status: number; headers?: Record<string, string> };
  const headers = new Headers(current);
  headers.delete('content-length');
  headers.set('content-type', 'application/graphql-response+json; charset=utf-8');
  for (const [name, value] of Object.entries(http.headers ?? {})) headers.set(name, value);
  const body = JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.extensions.code } }] });
  return new fetchAPI.Response(body, { status: http.status, headers });
}

function refusal(code: ErrorCode, message: string, status: number, headers?: Record<string, string>): ExecutionResult {
  return { errors: [new GraphQLError(message, { extensions: { code, http: { status, ...(headers ? { headers } : {}) } } })] };
}
