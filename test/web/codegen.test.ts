// The typed operations and the trusted-documents manifest in schema/operations/ are what `npm run codegen` makes of
// the committed schema and operations today: a stale file, or an operation the schema no longer accepts (a mobile app
// in the field would break), fails here.
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.js';
import { schema } from '../../src/schema.js';

describe('npm run codegen', () => {
  it('reproduces every committed file of schema/operations/', async () => {
    const outputs = (await generate({ ...config, cwd: new URL('../..', import.meta.url).pathname }, false)) as { filename: string; content: string }[];
    expect(outputs.map((o) => o.filename.replace(/^.*schema\/operations\//, '')).sort()).toEqual(['gql.ts', 'graphql.ts', 'index.ts', 'persisted-documents.json']);
    for (const { filename, content } of outputs) {
      expect(readFileSync(filename, 'utf8'), `${filename} is stale: run npm run codegen`).toBe(content);
    }
  });

  it('refuses an operation the schema does not accept', async () => {
    const broken = { ...config, documents: [{ 'query Broken { registryStats { totalDownloadsEver } }': {} } as never] };
    await expect(generate(broken, false)).rejects.toThrow(/totalDownloadsEver/);
  });

  it('writes a manifest whose every operation validates against the schema', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../schema/operations/persisted-documents.json', import.meta.url), 'utf8')) as Record<string, string>;
    for (const document of Object.values(manifest)) expect(validate(schema, parse(document))).toEqual([]);
  });
});
