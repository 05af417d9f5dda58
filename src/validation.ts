// Input validation of query arguments: a failure is a BAD_USER_INPUT GraphQL error, since queries have no typed error
// results. Mutation input is validated by each input field's own schema (Pothos' validation plugin, src/builder.ts).
import { GraphQLError } from 'graphql';
import type * as z from 'zod/mini';

/** Parses a query argument with schema; throws BAD_USER_INPUT naming the argument and every problem. */
export function parseQueryArg<S extends z.ZodMiniType>(name: string, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => issue.message).join('; ');
  throw new GraphQLError(`Invalid argument "${name}": ${problems}`, { extensions: { code: 'BAD_USER_INPUT' } });
}
