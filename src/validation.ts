// Input validation at the edge: zod schemas parsed before any database operation, failures become VALIDATION results.
import type * as z from 'zod/mini';
import { ValidationError } from './errors.js';

/** Parses input with schema; throws a ValidationError listing every problem, so nothing is written. */
export function parseInput<S extends z.ZodMiniType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const summary = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
  throw new ValidationError(`Invalid input: ${summary}`, problems);
}
