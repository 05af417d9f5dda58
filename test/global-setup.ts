// Vitest globalSetup: one embedded database for the whole run (unless MONGODB_URI points at a real MongoDB), URI handed to workers.
import type { TestProject } from 'vitest/node';
import { startEmbeddedDb } from '../src/embedded-db/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUri: string;
    mongoIsEmbedded: boolean;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.MONGODB_URI;
  if (external) {
    project.provide('mongoUri', external);
    project.provide('mongoIsEmbedded', false);
    return async () => undefined;
  }
  const db = await startEmbeddedDb({ port: 0 });
  project.provide('mongoUri', db.uri);
  project.provide('mongoIsEmbedded', true);
  // Forked workers inherit the environment, so this is a fallback for code that cannot call inject().
  process.env.EMBEDDED_MONGODB_URI = db.uri;
  return async () => {
    await db.stop();
  };
}
