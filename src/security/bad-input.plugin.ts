// Variables GraphQL cannot coerce to their declared types (a number for a String!, a missing required variable) are
// answered 400 by Yoga without a code; they get BAD_USER_INPUT like every other refused argument, so clients can
// branch on one code for "fix your input".
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// graphql-js words every variable coercion failure this way (execution/values.js).
const VARIABLE_ERROR = /^Variable "\$[_A-Za-z][_0-9A-Za-z]*" /;

export function useBadInputCodes(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Symbol.asyncIterator in result || Array.isArray(result) || !result.errors?.length) return;
      if (!result.errors.some((error) => error.extensions?.code === undefined && VARIABLE_ERROR.test(error.message))) return;
      setResult({
        ...result,
        errors: result.errors.map((error) =>
          error.extensions?.code === undefined && VARIABLE_ERROR.test(error.message)
            ? new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } })
            : error,
        ),
      });
    },
  };
}
