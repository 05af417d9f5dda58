// The bench's embedded database in its own process (so it does not share a core's event loop with the load), in memory.
import { startEmbeddedDb } from '../src/embedded-db/server.js';

export interface DbReady {
  type: 'ready';
  uri: string;
}

const db = await startEmbeddedDb({ port: 0, host: '127.0.0.1' });
const ready: DbReady = { type: 'ready', uri: db.uri };
process.send?.(ready);

async function shutdown(): Promise<void> {
  await db.stop();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('disconnect', () => void shutdown());
