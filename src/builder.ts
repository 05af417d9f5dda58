// The Pothos schema builder: plugins, scalars and the Context type; nothing domain-specific lives here.
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import ErrorsPlugin from '@pothos/plugin-errors';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { GraphQLError } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import type { Context } from './context.js';
import { ValidationError } from './errors.js';
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
  // wraps the errors plugin, so it sees the error objects that plugin turns into results (validation failures too:
  // the errors plugin also wraps the argument validation, which Pothos runs outside every resolver wrapper).
  plugins: [ScopeAuthPlugin, TypedErrorLog, ErrorsPlugin, ValidationPlugin, RelayPlugin, DataloaderPlugin],
  validation: {
    // Every failed `validate` schema becomes the field's ValidationError result, listing each problem by path.
    validationError: (failure) => {
      const problems = failure.issues.map((issue) => ({
        path: (issue.path ?? []).map((part) => String(typeof part === 'object' ? part.key : part)).join('.'),
        message: issue.message,
      }));
      return new ValidationError(`Invalid input: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`, problems);
    },
  },
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
    // Lets a failed input validation (which Pothos runs outside the resolver) become the field's ValidationError result.
    unsafelyHandleInputErrors: true,
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
