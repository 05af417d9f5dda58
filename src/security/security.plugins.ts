// The Yoga plugins of docs/security.md, in the order a request meets them.
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Plugin } from 'graphql-yoga';
import { useArmor } from './armor.plugin.js';
import { useBadInputCodes } from './bad-input.plugin.js';
import { useBodySizeLimit } from './body-size.plugin.js';
import { useIntrospectionSetting } from './introspection.plugin.js';
import { useOriginCheck } from './origin.plugin.js';
import { usePageSizeLimit } from './page-size.plugin.js';
import { usePersistedOperationsSetting } from './persisted-operations.plugin.js';
import { useRequestLog } from './request-log.plugin.js';
import { useSuggestionMasking } from './suggestions.plugin.js';

/** The header browsers must send on requests that would not be preflighted (GET, form posts); JSON POSTs need none. */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

export function securityPlugins(): Plugin[] {
  return [
    useRequestLog(), // first, so every outcome below is logged
    useOriginCheck(), // onRequest: 403 for a disallowed browser Origin
    useCSRFPrevention({ requestHeaders: [CSRF_HEADER] }), // onRequestParse: 403 for unpreflighted requests without the header
    useBodySizeLimit(), // onRequestParse: 413 before the body is parsed
    usePersistedOperationsSetting(), // onParams: trusted documents
    usePageSizeLimit(), // onValidate (inline first/last, before the cost rule) and onExecute (variables)
    useArmor(), // onParse/onValidate: tokens, depth, aliases, directives, cost, suggestions
    useIntrospectionSetting(), // onValidate
    useBadInputCodes(), // onExecutionResult: BAD_USER_INPUT on variables that cannot be coerced
    useSuggestionMasking(), // onResultProcess: no "Did you mean" in any error when introspection is off
  ];
}
