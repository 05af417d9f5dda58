// Vercel function: the one Yoga instance as Web-standard method handlers, nothing else (docs/deploy.md). Vercel's Node
// launcher hands each exported method a Web Request whose body is still an unread stream, so every check Yoga's
// plugins make (body size, malformed JSON, CSRF, origin) sees the request exactly as the tests do.
import { assertStartupConfig } from '../src/env.js';
import { yoga } from '../src/yoga.js';

// Runs once per cold start: a production instance without its secrets refuses to serve rather than serving insecurely.
assertStartupConfig();

export async function GET(request: Request): Promise<Response> {
  return yoga.fetch(request);
}

export { GET as POST, GET as OPTIONS };
