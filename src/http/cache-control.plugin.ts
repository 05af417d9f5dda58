// HTTP caching of GraphQL answers. Shared caches (Vercel's CDN) may keep an answer only when it is the same for every
// visitor: a query, sent as GET with a persisted-document hash, anonymous, selecting no per-user field, answered
// without errors. Everything else is `private, no-store`. How long is declared in the schema (docs/caching.md).
import { createHash } from 'node:crypto';
import {
  getNamedType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type InlineFragmentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** A field's or a type's cache hint: `maxAge` seconds for shared caches, or `private` for data that depends on the viewer. */
export type CacheHint = { maxAge: number } | { private: true };

/** Pothos `extensions` declaring a hint, e.g. `t.field({ extensions: cacheHint({ maxAge: 60 }), ... })`. */
export const cacheHint = (hint: CacheHint) => ({ cacheControl: hint });

export const NO_STORE = 'private, no-store';

/** The policy of one document: public for `maxAge` seconds, or not cacheable (and why, for tests and logs). */
export type CachePolicy = { maxAge: number } | { uncacheable: string };

const hintOf = (owner: { extensions?: unknown } | null | undefined): CacheHint | undefined =>
  (owner?.extensions as { cacheControl?: CacheHint } | undefined)?.cacheControl;

/**
 * Walks every selected field: a field's own hint, else its type's, else (below the root) its parent's; the lowest
 * maxAge wins. A root field without a hint, a private field, introspection or any non-query makes it uncacheable.
 */
export function cachePolicy(schema: GraphQLSchema, document: DocumentNode): CachePolicy {
  const typeInfo = new TypeInfo(schema);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  // Fragments are walked where they are spread, so their fields inherit from the field they are spread into.
  const operations = visit(
    { ...document, definitions: document.definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION) },
    {
      FragmentSpread(node): InlineFragmentNode | null {
        const fragment = fragments.get(node.name.value);
        return fragment ? { kind: Kind.INLINE_FRAGMENT, typeCondition: fragment.typeCondition, directives: node.directives, selectionSet: fragment.selectionSet } : null;
      },
    },
  );
  let maxAge = Infinity;
  let refusal: string | undefined;
  const inherited: number[] = [];
  visit(
    operations,
    visitWithTypeInfo(typeInfo, {
      OperationDefinition(node) {
        if (node.operation !== 'query') refusal ??= `a ${node.operation}`;
      },
      Field: {
        enter(node) {
          const field = typeInfo.getFieldDef();
          const name = node.name.value;
          if (name === '__typename') return false;
          if (name.startsWith('__')) refusal ??= 'introspection';
          const hint = hintOf(field) ?? hintOf(field ? (getNamedType(field.type) as GraphQLNamedType) : null);
          if (hint && 'private' in hint) refusal ??= `the per-user field ${typeInfo.getParentType()?.name}.${name}`;
          const own = hint && 'maxAge' in hint ? hint.maxAge : inherited.at(-1);
          if (own === undefined) refusal ??= `the root field ${name} declares no maxAge`;
          inherited.push(own ?? 0);
          maxAge = Math.min(maxAge, own ?? 0);
        },
        leave(node) {
          if (node.name.value !== '__typename') inherited.pop();
        },
      },
    }),
  );
  if (refusal) return { uncacheable: refusal };
  if (!(maxAge > 0) || !Number.isFinite(maxAge)) return { uncacheable: 'maxAge 0' };
  return { maxAge };
}

/** The Cache-Control value of a public answer: a CDN serves it for maxAge, and a stale copy while it revalidates. */
export const publicCacheControl = (maxAge: number) => `public, s-maxage=${maxAge}, stale-while-revalidate=${maxAge}`;

const policies = new WeakMap<Request, CachePolicy>();

// Yoga's parser cache hands back the same DocumentNode for the same persisted document, so each document's policy is
// walked once per schema, not once per request.
const documentPolicies = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, CachePolicy>>();

function cachedPolicy(schema: GraphQLSchema, document: DocumentNode): CachePolicy {
  let bySchema = documentPolicies.get(schema);
  if (!bySchema) documentPolicies.set(schema, (bySchema = new WeakMap()));
  let policy = bySchema.get(document);
  if (!policy) bySchema.set(document, (policy = cachePolicy(schema, document)));
  return policy;
}

const sentByHash = (request: Request, params: { extensions?: Record<string, unknown> } | undefined) =>
  request.method === 'GET' && typeof (params?.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash === 'string';

/** True when an If-None-Match list names this entity tag (weak comparison, as RFC 9110 asks for GET). */
function matchesEtag(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}

export function useCacheControl(): Plugin {
  return {
    onExecute({ args }) {
      const context = args.contextValue as { request?: Request; params?: { extensions?: Record<string, unknown> } };
      const request = context.request;
      if (!request) return;
      // The cheap refusals first: walking the document (two visits) for every POST cost about 60 µs per request.
      let policy: CachePolicy;
      if (request.headers.has('authorization')) policy = { uncacheable: 'Authorization' };
      else if (!sentByHash(request, context.params)) policy = { uncacheable: 'not a GET by persisted-document hash' };
      else policy = cachedPolicy(args.schema, args.document);
      policies.set(request, policy);
      return {
        onExecuteDone({ result }) {
          if ('errors' in result && result.errors?.length) policies.set(request, { uncacheable: 'errors' });
        },
      };
    },
    // Not async: the no-store answer (every POST) returns at once instead of through a promise.
    onResponse({ request, response, setResponse }) {
      if (request.method === 'OPTIONS') return;
      const policy = policies.get(request);
      if (!policy || !('maxAge' in policy) || response.status !== 200) {
        response.headers.set('cache-control', NO_STORE);
        return;
      }
      return answerCacheable(request, response, setResponse, policy.maxAge);
    },
  };
}

/** A public answer: its Cache-Control, its ETag, and 304 when the client holds that entity already. */
async function answerCacheable(request: Request, response: Response, setResponse: (response: Response) => void, maxAge: number): Promise<void> {
  const body = await response.clone().arrayBuffer();
  const etag = `"${createHash('sha256').update(new Uint8Array(body)).digest('base64url').slice(0, 27)}"`;
  response.headers.set('cache-control', publicCacheControl(maxAge));
  response.headers.set('etag', etag);
  // The answer differs by Origin (Access-Control-Allow-Origin): a shared cache keeps one copy per Origin.
  response.headers.append('vary', 'Origin');
  if (matchesEtag(request.headers.get('if-none-match'), etag)) {
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-type');
    setResponse(new Response(null, { status: 304, headers }));
  }
}
