// DB_TRACE support: records which database commands each request issued, to show one write and no read-before-write.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CommandStartedEvent, MongoClient } from 'mongodb';

export interface DbOp {
  command: string;
  collection: string | null;
}

const currentRequestOps = new AsyncLocalStorage<DbOp[]>();

/** Runs fn so that every command the driver starts inside it is appended to ops. */
export function traceDbOps<T>(ops: DbOp[], fn: () => T): T {
  return currentRequestOps.run(ops, fn);
}

const IGNORED_COMMANDS = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'saslStart', 'saslContinue']);

/** Subscribes to the client's command monitoring; the client must be created with monitorCommands. */
export function attachDbTrace(client: MongoClient): void {
  client.on('commandStarted', (event: CommandStartedEvent) => {
    const ops = currentRequestOps.getStore();
    if (!ops || IGNORED_COMMANDS.has(event.commandName)) return;
    const target = event.command[event.commandName];
    ops.push({ command: event.commandName, collection: typeof target === 'string' ? target : null });
  });
}
