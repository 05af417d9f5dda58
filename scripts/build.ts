// `npm run build`: the deployment itself, as Vercel's Build Output API v3 in .vercel/output (docs/deploy.md). Every
// api/**/*.ts becomes one function: a single minified ESM bundle plus the .vc-config.json that tells Vercel's Node
// launcher how to run it; the web page (web/, built by Vite) is the static output. Nothing else is emitted, so nothing
// but those functions and the page's built files is reachable over HTTP.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { ASSET_CACHE_CONTROL, PAGE_CACHE_CONTROL, WEB_HEADERS } from '../src/http/web-site.js';

/** The Node major Vercel runs every function on; package.json `engines` admits it (test/artifact checks both). */
export const FUNCTION_RUNTIME = 'nodejs22.x';
const NODE_TARGET = 'node22';
export const HANDLER_FILE = 'index.mjs';
/** Seconds a function may run (vercel.json `functions` cannot apply to a prebuilt output, so it lives here). */
const MAX_DURATION_SECONDS = 10;

/** What Vercel's Node launcher reads (https://vercel.com/docs/build-output-api/primitives#node.js-config). */
export interface NodeFunctionConfig {
  runtime: string;
  handler: string;
  launcherType: 'Nodejs';
  /** Off: the launcher must never read or parse the body before the function (malformed JSON, chunked size limits). */
  shouldAddHelpers: false;
  maxDuration: number;
}

export interface BuiltFunction {
  /** The source entry, e.g. api/graphql.ts. */
  entry: string;
  /** The URL path, e.g. /api/graphql. */
  path: string;
  /** The .func directory. */
  dir: string;
  bytes: number;
  metafile: Metafile;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OUTPUT_DIR = join(ROOT, '.vercel', 'output');

// Bundled CommonJS packages (the driver, pino) call require() for Node built-ins; an ES module has none of its own.
const REQUIRE_SHIM = "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);";

/** api/**\/*.ts, skipping what Vercel itself never turns into a function: paths with a segment starting "_" or ".". */
export async function functionEntries(root = ROOT): Promise<string[]> {
  const files = await readdir(join(root, 'api'), { recursive: true });
  return files
    .map((file) => join('api', file).split(sep).join('/'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !/\/[_.]/.test(file))
    .sort();
}

/**
 * The driver parses connection strings with `whatwg-url`, a JavaScript URL parser whose IDNA tables (tr46) are 283 kB
 * of the bundle, 17% of it. Node's own URL implements the same WHATWG standard natively, so the bundle uses it
 * (measured in bench/results/cold-start.json; the artifact tests connect through it).
 */
const nativeUrl: Plugin = {
  name: 'native-whatwg-url',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'native-url' }));
    b.onLoad({ filter: /.*/, namespace: 'native-url' }, () => ({
      contents: 'export const URL = globalThis.URL; export const URLSearchParams = globalThis.URLSearchParams;',
      loader: 'js',
    }));
  },
};

/**
 * graphql ships CommonJS (main) and ES modules (module). Node, and so the dev server and the tests, load one copy: the
 * CommonJS one. The bundle takes the ES modules instead, which esbuild can tree-shake (269 -> 178 kB), and sends deep
 * imports such as graphql-armor's `graphql/language/parser` there too, so the bundle holds one copy as well (two
 * copies of GraphQLError would break instanceof and mask typed errors).
 */
const graphqlEsm: Plugin = {
  name: 'graphql-esm',
  setup(b) {
    b.onResolve({ filter: /^graphql\/.+/ }, (args) => {
      const subpath = args.path.slice('graphql/'.length).replace(/\.m?js$/, '');
      return { path: join(ROOT, 'node_modules', 'graphql', `${subpath}.mjs`) };
    });
  },
};

/**
 * Yoga takes Request, Response and streams from @whatwg-node/fetch, which on Node loads its own implementation of them
 * (@whatwg-node/node-fetch and busboy: 74 kB) to speed up node:http servers. A function gets a native Request from
 * Vercel's launcher and hands back a Response, so the bundle uses Node's built-in classes; only URLPattern, which
 * Node 22 lacks, still comes from the polyfill.
 */
const nativeFetch: Plugin = {
  name: 'native-fetch',
  setup(b) {
    b.onResolve({ filter: /^@whatwg-node\/fetch$/ }, () => ({ path: '@whatwg-node/fetch', namespace: 'native-fetch' }));
    b.onLoad({ filter: /.*/, namespace: 'native-fetch' }, () => ({
      resolveDir: ROOT,
      loader: 'js',
      contents: [
        "import { URLPattern as URLPatternPolyfill } from 'urlpattern-polyfill/urlpattern';",
        ...FETCH_GLOBALS.map((name) => `export const ${name} = globalThis.${name};`),
        'export const URLPattern = globalThis.URLPattern ?? URLPatternPolyfill;',
        `export const createFetch = () => ({ ${FETCH_GLOBALS.join(', ')}, URLPattern });`,
      ].join('\n'),
    }));
  },
};
const FETCH_GLOBALS = ['fetch', 'Headers', 'Request', 'Response', 'FormData', 'ReadableStream', 'WritableStream', 'TransformStream', 'CompressionStream', 'DecompressionStream', 'TextDecoderStream', 'TextEncoderStream', 'Blob', 'File', 'crypto', 'btoa', 'TextEncoder', 'TextDecoder', 'URL', 'URLSearchParams'];

/**
 * pino runs transports in worker threads through thread-stream (10 kB). A function logs JSON lines to stdout, which
 * Vercel collects, and never starts a transport, so the bundle carries a stub that says so if one is ever asked for.
 */
const noPinoTransport: Plugin = {
  name: 'no-pino-transport',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$/ }, () => ({ path: 'thread-stream', namespace: 'no-pino-transport' }));
    b.onLoad({ filter: /.*/, namespace: 'no-pino-transport' }, () => ({
      loader: 'js',
      contents: "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not bundled into functions: log to stdout'); } };",
    }));
  },
};

/** The size decisions above, by plugin name; the cold-start bench prices each by building without it. */
export const SIZE_DECISIONS = ['native-whatwg-url', 'graphql-esm', 'native-fetch', 'no-pino-transport'] as const;

/** esbuild options every function is built with (`without` drops size decisions, for the bench only). */
export function bundleOptions(entry: string, outfile: string, { without = [] }: { without?: readonly string[] } = {}): BuildOptions & { metafile: true } {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: NODE_TARGET,
    minify: true,
    // License texts and comments are not code; the artifact's size is paid on every cold start.
    legalComments: 'none',
    outfile,
    metafile: true,
    banner: { js: REQUIRE_SHIM },
    // The function knows its own maxDuration, so live responses end before it (src/live/stream-lifetime.ts).
    define: { 'process.env.FUNCTION_MAX_DURATION_SECONDS': JSON.stringify(String(MAX_DURATION_SECONDS)) },
    // ES module entry points first (graphql above); packages with an `exports` map resolve through it either way.
    mainFields: without.includes('graphql-esm') ? ['main', 'module'] : ['module', 'main'],
    plugins: [nativeUrl, graphqlEsm, nativeFetch, noPinoTransport].filter((plugin) => !without.includes(plugin.name)),
    logLevel: 'warning',
  };
}

async function buildFunction(entry: string, outputDir: string): Promise<BuiltFunction> {
  const path = `/${entry.replace(/\.ts$/, '')}`;
  const dir = join(outputDir, 'functions', `${path.slice(1)}.func`);
  const outfile = join(dir, HANDLER_FILE);
  const result = await build(bundleOptions(join(ROOT, entry), outfile));
  const config: NodeFunctionConfig = {
    runtime: FUNCTION_RUNTIME,
    handler: HANDLER_FILE,
    launcherType: 'Nodejs',
    shouldAddHelpers: false,
    maxDuration: MAX_DURATION_SECONDS,
  };
  await writeFile(join(dir, '.vc-config.json'), `${JSON.stringify(config, null, 2)}\n`);
  const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
  return { entry, path, dir, bytes, metafile: result.metafile };
}

/**
 * Routes: the functions and the page's built files (static/), with the page's headers (the same the dev server sends,
 * src/http/web-site.ts). After the filesystem phase every other path is a 404, so no source, test or config file can
 * ever be served, whatever lands in the repository.
 */
export const OUTPUT_CONFIG = {
  version: 3,
  routes: [
    { src: '^/(?!api/).*$', headers: WEB_HEADERS, continue: true },
    { src: '^/assets/.+$', headers: { 'cache-control': ASSET_CACHE_CONTROL }, continue: true },
    { src: '^/(index\\.html)?$', headers: { 'cache-control': PAGE_CACHE_CONTROL }, continue: true },
    { handle: 'filesystem' },
    { src: '/(.*)', status: 404 },
  ],
} as const;

/** The web page into static/: Vite's build of web/ (index.html and content-hashed assets, no source maps). */
async function buildStatic(outputDir: string): Promise<void> {
  const { build: vite } = await import('vite');
  await vite({ configFile: join(ROOT, 'web', 'vite.config.ts'), logLevel: 'warn', build: { outDir: join(outputDir, 'static'), emptyOutDir: true } });
}

/** Writes .vercel/output from scratch; returns what it built. */
export async function buildOutput(outputDir = OUTPUT_DIR): Promise<BuiltFunction[]> {
  await rm(outputDir, { recursive: true, force: true });
  await mkdir(outputDir, { recursive: true });
  const entries = await functionEntries();
  if (entries.length === 0) throw new Error('no api/**/*.ts entry to build');
  const built: BuiltFunction[] = [];
  for (const entry of entries) built.push(await buildFunction(entry, outputDir));
  await buildStatic(outputDir);
  await writeFile(join(outputDir, 'config.json'), `${JSON.stringify(OUTPUT_CONFIG, null, 2)}\n`);
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const built = await buildOutput();
  for (const fn of built) console.log(`${fn.path.padEnd(28)} ${(fn.bytes / 1e3).toFixed(0).padStart(6)} kB  ${relative(ROOT, fn.dir)}`);
  console.log(`built ${built.length} function(s) into ${relative(ROOT, OUTPUT_DIR)} in ${Math.round(performance.now() - started)} ms`);
}
