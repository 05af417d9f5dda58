// Lets a query field mark its answer as cacheable by shared caches (Vercel's CDN): `Cache-Control: public,
// s-maxage=<n>` on the response, only for anonymous requests (a signed-in answer may hold the viewer's own data).
import type { Plugin } from 'graphql-yoga';

const hints = new WeakMap<Request, number>();

/** Marks the request's answer cacheable for `seconds`; the shortest hint of a request wins. */
export function hintCacheable(request: Request | undefined, seconds: number): void {
  if (!request) return;
  hints.set(request, Math.min(hints.get(request) ?? seconds, seconds));
}

export function useCacheHints(): Plugin {
  return {
    onResponse({ request, response }) {
      const seconds = hints.get(request);
      if (seconds === undefined || request.headers.has('authorization') || response.status !== 200) return;
      response.headers.set('cache-control', `public, s-maxage=${seconds}`);
    },
  };
}
