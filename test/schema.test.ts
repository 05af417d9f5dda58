// The committed SDL (schema/schema.graphql) is what clients generate code from: it must match the code.
import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { expect, it } from 'vitest';
import { schema } from '../src/schema.js';

it('schema/schema.graphql matches the schema built from the code (run `npm run schema:print`)', () => {
  const committed = readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8');
  expect(committed).toBe(`${printSchema(schema)}\n`);
});
