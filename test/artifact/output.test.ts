// What `npm run build` emits is the whole deployment: functions only, each one bundle with the launcher options the
// HTTP contract relies on, on the Node major the project pins, within the size budget, and nothing else to serve.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import semver from 'semver';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FUNCTION_RUNTIME, functionEntries, HANDLER_FILE, OUTPUT_CONFIG } from '../../scripts/build.js';
import { buildArtifact, type Artifact } from './artifact.js';

/** The budget for the GraphQL function: 1.2 MB in total. */
const GRAPHQL_FUNCTION_BUDGET_BYTES = 1_200_000;

let artifact: Artifact;
beforeAll(async () => {
  artifact = await buildArtifact();
});
afterAll(() => artifact?.remove());

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

it('holds config.json and one .func per api/**/*.ts entry, each exactly a bundle and its .vc-config.json', async () => {
  const entries = await functionEntries();
  expect(entries).toContain('api/graphql.ts');
  const expected = ['config.json', ...entries.flatMap((e) => [`functions/${e.replace(/\.ts$/, '')}.func/.vc-config.json`, `functions/${e.replace(/\.ts$/, '')}.func/${HANDLER_FILE}`])];
  expect((await files(artifact.dir)).filter((f) => !f.startsWith('static/')).sort()).toEqual(expected.sort());
});

it('serves nothing but the functions and the web page: static/ holds only its built files, every other path is a 404', async () => {
  const config = JSON.parse(await readFile(join(artifact.dir, 'config.json'), 'utf8'));
  expect(config).toEqual(OUTPUT_CONFIG);
  expect(config.routes.at(-1)).toEqual({ src: '/(.*)', status: 404 });
  const statics = (await files(join(artifact.dir, 'static'))).sort();
  expect(statics).toHaveLength(3);
  expect(statics[0]).toMatch(/^assets\/index-[\w-]+\.css$/);
  expect(statics[1]).toMatch(/^assets\/index-[\w-]+\.js$/);
  expect(statics[2]).toBe('index.html');
  // The page's Content-Security-Policy on every path outside the API.
  expect(config.routes[0]).toMatchObject({ src: '^/(?!api/).*$', continue: true, headers: { 'content-security-policy': expect.stringContaining("script-src 'self'") } });
});

it('declares the Node launcher with request helpers off and the pinned runtime, which package.json engines admit', async () => {
  const pkg = JSON.parse(await readFile('package.json', 'utf8'));
  const major = /^nodejs(\d+)\.x$/.exec(FUNCTION_RUNTIME)![1]!;
  // Vercel builds with the newest major the range admits, so the range must admit this one and no newer one.
  expect(semver.intersects(pkg.engines.node, `${major}.x`)).toBe(true);
  expect(semver.intersects(pkg.engines.node, `>=${Number(major) + 1}.0.0`)).toBe(false);
  for (const fn of artifact.functions) {
    const config = JSON.parse(await readFile(join(fn.dir, '.vc-config.json'), 'utf8'));
    expect(config).toMatchObject({ runtime: FUNCTION_RUNTIME, handler: HANDLER_FILE, launcherType: 'Nodejs', shouldAddHelpers: false });
  }
});

it('bundles every function from the sources alone: no embedded database, no test or bench code', () => {
  for (const fn of artifact.functions) {
    const inputs = Object.keys(fn.metafile.inputs);
    expect(inputs.filter((p) => /(^|\/)(src\/embedded-db|test|bench)\//.test(p))).toEqual([]);
  }
});

it(`keeps the GraphQL function within ${GRAPHQL_FUNCTION_BUDGET_BYTES / 1e6} MB`, () => {
  expect(artifact.fn('/api/graphql').bytes).toBeLessThanOrEqual(GRAPHQL_FUNCTION_BUDGET_BYTES);
});

it('makes vercel deploy run this build: static-build on package.json, so Vercel never builds api/ with its own defaults', async () => {
  const vercel = JSON.parse(await readFile('vercel.json', 'utf8'));
  const pkg = JSON.parse(await readFile('package.json', 'utf8'));
  expect(vercel.builds).toEqual([{ src: 'package.json', use: '@vercel/static-build' }]);
  expect(pkg.scripts.build).toBe('tsx scripts/build.ts');
  // A vercel-build script would run once per api/ entry under zero config; here it would only shadow "build".
  expect(pkg.scripts['vercel-build']).toBeUndefined();
  const paths = artifact.functions.map((f) => f.path);
  for (const cron of vercel.crons as { path: string }[]) expect(paths, cron.path).toContain(cron.path);
});
