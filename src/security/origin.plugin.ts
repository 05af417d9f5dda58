// Browser origins: CORS headers only for allowed origins, and a 403 for requests that carry any other Origin, so a
// disallowed site cannot even make the API execute a "simple" request whose response the browser would then hide.
import type { Plugin } from 'graphql-yoga';
import { securitySettings } from './settings.js';

/** The request's Origin header when it names the API's own host or an allowed origin; null without one; false otherwise. */
export function checkOrigin(request: Request): string | null | false {
  const origin = request.headers.get('origin');
  if (origin === null) return null;
  if (securitySettings().allowedOrigin(origin)) return origin;
  try {
    // Same-origin requests from a frontend served by this deployment carry an Origin too: scheme, host and port must
    // all be the API's own (an http:// page must not pass for an https:// API, nor another port on the same host).
    return new URL(origin).origin === ownOrigin(request) ? origin : false;
  } catch {
    return false;
  }
}

/**
 * The API's origin as browsers see it. Behind Vercel's proxy the function receives plain http, and the launcher builds
 * request.url from the Host header alone; the proxy states the client's scheme in x-forwarded-proto. Outside Vercel no
 * proxy sets it, so the node server drops any client-sent value (src/node-server.ts).
 */
export function ownOrigin(request: Request): string {
  const url = new URL(request.url);
  const proto = request.headers.get('x-forwarded-proto')?.split(',')[0]!.trim().toLowerCase();
  if (proto === 'https' || proto === 'http') url.protocol = `${proto}:`;
  return url.origin;
}

/** Yoga's `cors` option: reflect an allowed origin, send no CORS headers for any other (the browser then blocks). */
export function corsOptions(request: Request) {
  const origin = checkOrigin(request);
  if (!origin) return false as const;
  return {
    origin: [origin],
    // Bearer tokens, not cookies: browsers need not send credentials, so they are not allowed.
    credentials: false,
    methods: ['GET', 'POST'],
    maxAge: 600,
    exposedHeaders: ['x-request-id'],
  };
}

export function useOriginCheck(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      // Preflights are answered by the CORS plugin, without allow headers for a disallowed origin.
      if (request.method === 'OPTIONS' || checkOrigin(request) !== false) return;
      endResponse(
        fetchAPI.Response.json(
          { errors: [{ message: 'Requests from this origin are not allowed (CORS_ORIGINS).', extensions: { code: 'FORBIDDEN_ORIGIN' } }] },
          { status: 403 },
        ),
      );
    },
  };
}
