// "Did you mean ...?" names schema members, so it goes with introspection (off in production). GraphQL Armor hides it in
// validation errors only; graphql-js also suggests in variable-coercion errors ("Field "nmae" is not defined by type
// "CreatePackageInput". Did you mean "name"?") and enum values. This plugin removes it from every error of every result.
import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { securitySettings } from './settings.js';

// Suggested names are GraphQL names and never contain "?", so the suggestion ends at the first one.
const SUGGESTION = /\s*Did you mean [^?]*\?/g;
/** What replaces a suggestion: the wording GraphQL Armor uses for the validation errors it masks. */
export const SUGGESTION_HIDDEN = ' [Suggestion hidden]';

export function stripSuggestions(message: string): string {
  return message.replace(SUGGESTION, SUGGESTION_HIDDEN);
}

function maskError(error: unknown): unknown {
  if (error instanceof GraphQLError) {
    if (!error.message.includes('Did you mean ')) return error;
    return createGraphQLError(stripSuggestions(error.message), {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    });
  }
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    return { ...error, message: stripSuggestions((error as { message: string }).message) };
  }
  return error;
}

function maskResult<T>(result: T): T {
  if (!result || typeof result !== 'object' || !('errors' in result) || !Array.isArray(result.errors)) return result;
  return { ...result, errors: result.errors.map(maskError) };
}

export function useSuggestionMasking(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (securitySettings().introspection) return;
      // Subscriptions and incremental delivery are not served (no transport for them), so only plain results are masked.
      if (Array.isArray(result)) setResult(result.map(maskResult));
      else if (!(Symbol.asyncIterator in result)) setResult(maskResult(result));
    },
  };
}
