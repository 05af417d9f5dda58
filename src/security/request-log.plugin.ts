// One structured log line per request: request id, operation, user id, outcome (success, an error code, or
// unexpected), HTTP status and duration. Never the token, the variables or the body.
import { type DocumentNode, getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { logger } from '../logger.js';
import { requestIdOf } from './request-id.js';

interface RequestRecord {
  startedAt: number;
  operation: string | null;
  operationType: string | null;
  userId: string | null;
  /** Typed error results (RATE_LIMITED, FORBIDDEN, ...) returned by resolvers: the context's typedErrorCodes. */
  resultCodes: string[];
  /** Codes of GraphQL errors in the response (UNAUTHENTICATED, GRAPHQL_VALIDATION_FAILED, ...). */
  errorCodes: string[];
  unexpected: boolean;
}

const records = new WeakMap<Request, RequestRecord>();

function noteErrors(record: RequestRecord, errors: readonly GraphQLError[] | undefined): void {
  for (const error of errors ?? []) {
    const http = error.extensions?.http as { status?: number } | undefined;
    const code = typeof error.extensions?.code === 'string' ? error.extensions.code : http?.status ? `HTTP_${http.status}` : 'UNCODED';
    if (code === 'INTERNAL_SERVER_ERROR' || error.extensions?.unexpected) record.unexpected = true;
    record.errorCodes.push(code);
  }
}

function noteOperation({ args }: { args: { contextValue: unknown; document: DocumentNode; operationName?: string | null } }): void {
  const context = args.contextValue as Context & { request: Request };
  const record = records.get(context.request);
  if (!record) return;
  const operation = getOperationAST(args.document, args.operationName);
  record.operation = operation?.name?.value ?? args.operationName ?? null;
  record.operationType = operation?.operation ?? null;
  record.userId = context.viewer?.id ?? null;
  // The typed-error-log Pothos plugin pushes into this list while the operation executes.
  record.resultCodes = context.typedErrorCodes;
}

export function useRequestLog(): Plugin {
  return {
    onRequest({ request }) {
      records.set(request, {
        startedAt: performance.now(),
        operation: null,
        operationType: null,
        userId: null,
        resultCodes: [],
        errorCodes: [],
        unexpected: false,
      });
    },
    onExecute: noteOperation,
    // A subscription (SSE) never executes; its log line names its operation and user all the same.
    onSubscribe: noteOperation,
    onResultProcess({ request, result }) {
      const record = records.get(request);
      if (!record) return;
      for (const single of Array.isArray(result) ? result : [result]) {
        if (single && typeof single === 'object' && 'errors' in single) noteErrors(record, single.errors as GraphQLError[] | undefined);
      }
    },
    onResponse({ request, response }) {
      const requestId = requestIdOf(request);
      response.headers.set('x-request-id', requestId);
      const record = records.get(request);
      if (!record) return;
      const unexpected = record.unexpected || response.status >= 500;
      const codes = [...record.resultCodes, ...record.errorCodes];
      const line = {
        requestId,
        operation: record.operation,
        operationType: record.operationType,
        userId: record.userId,
        // A refusal answered before any GraphQL result (a disallowed Origin) has only its status to show.
        outcome: unexpected ? 'unexpected' : (codes[0] ?? (response.status >= 400 ? `HTTP_${response.status}` : 'success')),
        ...(codes.length > 1 ? { codes } : {}),
        status: response.status,
        durationMs: Math.round(performance.now() - record.startedAt),
      };
      if (unexpected) logger.error(line, 'graphql request');
      else logger.info(line, 'graphql request');
    },
  };
}
