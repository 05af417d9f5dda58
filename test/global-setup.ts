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
  // Each vitest project runs this setup; they share one server (on globalThis, since each may load this module
  // anew), so the URI provided and EMBEDDED_MONGODB_URI always name the same database.
  const shared = globalThis as { embeddedTestDb?: Promise<Awaited<ReturnType<typeof startEmbeddedDb>>>; embeddedTestDbUsers?: number };
  shared.embeddedTestDb ??= startEmbeddedDb({ port: 0 });
  shared.embeddedTestDbUsers = (shared.embeddedTestDbUsers ?? 0) + 1;
  const db = await shared.embeddedTestDb;
  project.provide('mongoUri', db.uri);
  project.provide('mongoIsEmbedded', true);
  // Forked workers inherit the environment, so this is a fallback for code that cannot call inject().
  process.env.EMBEDDED_MONGODB_URI = db.uri;
  return async () => {
    shared.embeddedTestDbUsers = (shared.embeddedTestDbUsers ?? 1) - 1;
    if (shared.embeddedTestDbUsers > 0) return;
    shared.embeddedTestDb = undefined;
    await db.stop();
  };
}
