// `npm run codegen`: GraphQL Code Generator's client preset turns every client's operations (the web page's and the
// mobile app's) into typed documents, and its persisted-documents output is the trusted-documents manifest the API
// serves by hash (src/security/persisted-operations.plugin.ts). test/web/codegen.test.ts fails when this is stale.
import { createHash } from 'node:crypto';
import type { CodegenConfig } from '@graphql-codegen/cli';

/** Where the typed documents and the manifest are written. */
export const OPERATIONS_DIR = 'schema/operations/';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['web/src/**/*.graphql', 'schema/mobile-operations.graphql'],
  // A document that does not validate against the schema fails generation (and so the codegen test).
  generates: {
    [OPERATIONS_DIR]: {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        // Bare hex sha256, as extensions.persistedQuery.sha256Hash carries it (the preset's default adds "sha256:").
        persistedDocuments: { hashAlgorithm: (document: string) => createHash('sha256').update(document, 'utf8').digest('hex') },
      },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', ID: 'string' } },
    },
  },
  silent: true,
};

export default config;
