// Vercel function: the one Yoga instance, nothing else. Vercel routes /api/graphql here.
import type { VercelRequest, VercelResponse } from '@vercel/node';
import { assertStartupConfig } from '../src/env.js';
import { yoga } from '../src/yoga.js';

// Runs once per cold start: a production instance without its secrets refuses to serve rather than serving insecurely.
assertStartupConfig();

// Yoga reads the request stream itself; the Vercel runtime only parses `req.body` if something asks for it.
export default function handler(req: VercelRequest, res: VercelResponse): Promise<void> {
  return yoga(req, res);
}
