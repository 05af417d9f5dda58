// GraphQL Armor's limits (depth, aliases, tokens, directives, cost) and field-suggestion masking, configured from
// the environment per request: over-limit documents fail parsing or validation, so they never execute.
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext, ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { readEnv, type Env } from '../env.js';
import { securitySettings } from './settings.js';

type ArmorPlugin = Plugin<Record<string, unknown>>;

/** Reports a limit as an ordinary validation error (HTTP 400 with graphql-response+json) instead of throwing mid-validation. */
const report = [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)];

let cached: { env: Env; key: string; plugins: ArmorPlugin[] } | undefined;

function armorPlugins(): { key: string; plugins: ArmorPlugin[] } {
  const env = readEnv();
  if (cached?.env === env) return cached;
  const { limits, introspection } = securitySettings(env);
  const common = { propagateOnRejection: false, onReject: report, exposeLimits: true };
  const { plugins } = new EnvelopArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...common },
    maxAliases: { n: limits.maxAliases, ...common },
    maxDirectives: { n: limits.maxDirectives, ...common },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, ...common },
    // The token limit fails the parse itself (a syntax error naming the limit).
    maxTokens: { n: limits.maxTokens, exposeLimits: true },
    // Suggestions ("Did you mean ...?") reveal field names, so they go with introspection.
    blockFieldSuggestion: { enabled: !introspection },
  }).protect() as { plugins: ArmorPlugin[] };
  for (const plugin of plugins) {
    const hooks = Object.keys(plugin).filter((hook) => hook !== 'onParse' && hook !== 'onValidate');
    if (hooks.length > 0) throw new Error(`graphql-armor plugin uses unsupported hooks: ${hooks.join(', ')}`);
  }
  // Yoga caches validation results per set of rule names: naming the rules after the limits keeps that cache honest.
  const key = `armor(${Object.values(limits).join(',')},${introspection})`;
  cached = { env, key, plugins };
  return cached;
}

// Armor builds a fresh closure of each rule on every request. The name already encodes the limits and the plugin's
// position, so the first rule built under a name serves every later request with that name: one wrapper, no
// per-request renaming.
const namedRules = new Map<string, ValidationRule>();

function named(rule: ValidationRule, name: string): ValidationRule {
  let wrapped = namedRules.get(name);
  if (!wrapped) {
    wrapped = (context) => rule(context);
    Object.defineProperty(wrapped, 'name', { value: name });
    namedRules.set(name, wrapped);
  }
  return wrapped;
}

export function useArmor(): Plugin {
  return {
    onParse(payload) {
      for (const plugin of armorPlugins().plugins) void plugin.onParse?.(payload as never);
    },
    onValidate(payload) {
      const { key, plugins } = armorPlugins();
      const after: ((end: never) => void)[] = [];
      plugins.forEach((plugin, index) => {
        const end = plugin.onValidate?.({
          ...payload,
          addValidationRule: (rule: ValidationRule) => payload.addValidationRule(named(rule, `${key}#${index}`)),
        } as never);
        if (typeof end === 'function') after.push(end as (end: never) => void);
      });
      if (after.length === 0) return;
      return (end) => {
        for (const hook of after) hook(end as never);
      };
    },
  };
}
