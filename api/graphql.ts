// Vercel function: the one Yoga instance, nothing else. Vercel routes /api/graphql here.
import { assertStartupConfig } from '../src/env.js';
import { yoga } from '../src/yoga.js';

assertStartupConfig();

export const config = { api: { bodyParser: false } };

export default yoga;
