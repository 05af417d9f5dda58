// Trusted documents: operations from schema/operations/persisted-documents.json (GraphQL Code Generator's manifest of
// the web and mobile operations, `npm run codegen`) are sent by hash (extensions.persistedQuery.sha256Hash). PERSISTED_OPERATIONS decides who may still send arbitrary documents:
// optional (default) everyone, required only browsers from an allowed origin (the web app), strict nobody.
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin } from 'graphql-yoga';
import manifest from '../../schema/operations/persisted-documents.json' with { type: 'json' };
import { checkOrigin } from './origin.plugin.js';
import { securitySettings } from './settings.js';

const documents = new Map<string, string>(Object.entries(manifest as Record<string, string>));

/** Whether this request may send a document that is not in the manifest. */
export function allowsArbitraryOperations(request: Request): boolean {
  switch (securitySettings().persistedOperations) {
    case 'optional':
      return true;
    case 'required':
      // Only browsers send Origin; a forged one gets past this, which is why every limit applies to everyone anyway.
      return typeof checkOrigin(request) === 'string';
    case 'strict':
      return false;
  }
}

const badRequest = (message: string, code: string) => ({ message, extensions: { code, http: { status: 400 } } });

export function usePersistedOperationsSetting(): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (hash) => documents.get(hash) ?? null,
    allowArbitraryOperations: allowsArbitraryOperations,
    customErrors: {
      persistedQueryOnly: badRequest(
        'Only persisted operations are accepted: send extensions.persistedQuery { version: 1, sha256Hash } of an operation in the manifest.',
        'PERSISTED_QUERY_ONLY',
      ),
      notFound: badRequest('No persisted operation has this sha256Hash.', 'PERSISTED_QUERY_NOT_FOUND'),
      keyNotFound: badRequest('Send a "query", or a persisted operation in extensions.persistedQuery.sha256Hash.', 'BAD_REQUEST'),
    },
  }) as Plugin;
}
