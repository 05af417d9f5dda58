// `npm run persisted-operations`: writes schema/persisted-operations.json from schema/mobile-operations.graphql.
import { readFileSync, writeFileSync } from 'node:fs';
import { buildPersistedManifest } from '../src/security/persisted-manifest.js';

const source = new URL('../schema/mobile-operations.graphql', import.meta.url);
const target = new URL('../schema/persisted-operations.json', import.meta.url);
const manifest = buildPersistedManifest(readFileSync(source, 'utf8'));
writeFileSync(target, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`wrote ${Object.keys(manifest).length} operations to ${target.pathname}`);
