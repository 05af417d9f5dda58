// `npm run web:build`: the web page into web/dist, which scripts/build.ts copies into the deployment's static output.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // No inline script or style anywhere, so the Content-Security-Policy can say 'self' only (src/http/web-site.ts).
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
});
