// esbuild for the bench: bundles an entry point into one ESM file for Node, as a deployment would, with nothing
// external but Node's built-ins.
import { build, type Metafile } from 'esbuild';

/** Lets bundled CommonJS packages require Node built-ins from inside an ES module. */
const REQUIRE_SHIM = "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);";

export async function bundleForNode(entry: string, outfile: string, options: { minify: boolean }): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    minify: options.minify,
    outfile,
    metafile: true,
    banner: { js: REQUIRE_SHIM },
    logLevel: 'silent',
  });
  return result.metafile;
}
