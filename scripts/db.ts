// `npm run db`: runs the embedded MongoDB-compatible database in the foreground until SIGINT/SIGTERM.
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
const db = await startEmbeddedDb({ port, dataDir });
console.log(db.uri);
console.error(dataDir ? `embedded-db: persisting to ${dataDir} on shutdown` : 'embedded-db: in-memory only (pass --data-dir DIR to persist)');

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
