// A Pothos plugin that notes the code of every typed error result (NotFoundError, RateLimitedError, ...) a field
// returns in the request's context, for the request log. Typed errors are data, not GraphQL errors, so nothing else
// would see them; Pothos' own onResolvedError hook gets no context, and tracking the request through
// AsyncLocalStorage instead would turn on async hooks for every promise in the process.
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { ERROR_CODES } from '../errors.js';

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** The name to list in the builder's plugins. */
export const TypedErrorLog = 'typedErrorLog' as const;

// Pothos types its plugins through this global namespace; declaration merging needs the namespace syntax.
/* eslint-disable @typescript-eslint/no-namespace */
declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      typedErrorLog: TypedErrorLogPlugin<Types>;
    }
  }
}
/* eslint-enable @typescript-eslint/no-namespace */

/** What the plugin needs of the context: the list the request log reads when the response goes out. */
export interface TypedErrorCodes {
  typedErrorCodes: string[];
}

/**
 * The errors plugin returns a Proxy of the thrown AppError whose prototype chain is proxied too, so `instanceof`
 * does not recognise it; its `code` (one of ERROR_CODES) does. Success results have no `code`.
 */
function note(context: TypedErrorCodes, result: unknown): unknown {
  const code = typeof result === 'object' && result !== null ? (result as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && CODES.has(code)) context.typedErrorCodes.push(code);
  return result;
}

export class TypedErrorLogPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  // Pothos runs argument validation outside every resolver wrapper; the errors plugin turns its failures into results
  // there, so this wrapper must sit there too to see them.
  override wrapArgMappers(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    return this.wrapResolve(resolver, fieldConfig);
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    // Only fields that declare error types can return one (the errors plugin marks them the same way); every other
    // resolver stays unwrapped.
    if (!fieldConfig.extensions?.pothosErrors) return resolver;
    return (parent, args, context, info) => {
      const codes = context as Partial<TypedErrorCodes>;
      const result: unknown = resolver(parent, args, context, info);
      // A context without the list (a schema used outside src/context.ts) is left alone.
      if (!codes.typedErrorCodes) return result;
      const into = codes as TypedErrorCodes;
      return result instanceof Promise ? result.then((value: unknown) => note(into, value)) : note(into, result);
    };
  }
}

SchemaBuilder.registerPlugin(TypedErrorLog, TypedErrorLogPlugin);
