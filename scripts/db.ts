// `npm run db`: runs the embedded MongoDB-compatible database in the foreground until SIGINT/SIGTERM/SIGHUP.
import { startEmbeddedDb } from '../src/embedded-db/server.js';

function dataDirFromArgs(argv: string[]): string | undefined {
  const i = argv.indexOf('--data-dir');
  if (i >= 0) {
    const dir = argv[i + 1];
    if (!dir) throw new Error('--data-dir needs a directory');
    return dir;
  }
  const inline = argv.find((a) => a.startsWith('--data-dir='));
  return inline ? inline.slice('--data-dir='.length) : process.env.EMBEDDED_DB_DIR || undefined;
}

const port = Number(process.env.DB_PORT ?? 27017);
const dataDir = dataDirFromArgs(process.argv.slice(2));
let db: Awaited<ReturnType<typeof startEmbeddedDb>>;
try {
  // --no-journal: snapshot on clean stop only (kept to measure the journal's cost and to show what a crash loses without it).
  // EMBEDDED_DB_USER + EMBEDDED_DB_PASSWORD: clients must authenticate (SCRAM-SHA-256, authSource=admin).
  const user = process.env.EMBEDDED_DB_USER;
  if (user && !process.env.EMBEDDED_DB_PASSWORD) throw new Error('EMBEDDED_DB_USER needs EMBEDDED_DB_PASSWORD');
  const auth = user ? { user, password: process.env.EMBEDDED_DB_PASSWORD! } : undefined;
  db = await startEmbeddedDb({ port, dataDir, journal: !process.argv.includes('--no-journal'), auth });
} catch (err) {
  // e.g. a corrupt journal or snapshot: say which file and where, and leave it alone.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
console.log(db.uri);
console.error(dataDir ? `embedded-db: data in ${dataDir} (journaled; every acknowledged write survives a crash)` : 'embedded-db: in-memory only (pass --data-dir DIR to persist)');

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.error(`embedded-db: ${signal} received, stopping`);
  db.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('embedded-db: failed to stop cleanly', err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
// A closed terminal sends SIGHUP; stopping cleanly then writes the checkpoint instead of leaving only the journal.
process.on('SIGHUP', () => shutdown('SIGHUP'));
