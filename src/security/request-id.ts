// One id per request for logs and the x-request-id response header: the caller's or Vercel's id when short and
// plain (so it cannot smuggle text into log lines), else a fresh UUID.
const ids = new WeakMap<Request, string>();
const PLAIN_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** The request's id, the same on every call for one request. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (id === undefined) {
    const offered = request.headers.get('x-request-id') ?? request.headers.get('x-vercel-id');
    id = offered !== null && PLAIN_ID.test(offered) ? offered : crypto.randomUUID();
    ids.set(request, id);
  }
  return id;
}
