// Introspection (__schema, __type) is refused unless GRAPHQL_INTROSPECTION=1, by default in production; __typename stays.
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { securitySettings } from './settings.js';

export function useIntrospectionSetting(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!securitySettings().introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
