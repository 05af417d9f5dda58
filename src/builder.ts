// The Pothos schema builder: plugins, scalars and the Context type; nothing domain-specific lives here.
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLError } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import type { Context } from './context.js';
import { TypedErrorLog } from './security/typed-error-log.pothos-plugin.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { authenticated: boolean };
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  // Scope-auth first, so authentication is checked before any other plugin wraps the resolver; the typed-error log
  // wraps the errors plugin, so it sees the error objects that plugin turns into results.
  plugins: [ScopeAuthPlugin, TypedErrorLog, ErrorsPlugin, RelayPlugin, DataloaderPlugin],
  // Fields are non-null unless they say otherwise, so the SDL states what clients can rely on.
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ authenticated: context.viewer !== null }),
    unauthorizedError: () =>
      new GraphQLError('Sign in to do this: send "Authorization: Bearer <token>".', {
        extensions: { code: 'UNAUTHENTICATED' },
      }),
  },
  errors: {
    // Every mutation field lists its own error types; the union is the field's "Result" type.
    directResult: true,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.queryType({});
builder.mutationType({});
