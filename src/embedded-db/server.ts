// Embedded MongoDB-compatible server: TCP listener speaking the wire protocol on top of the in-memory store.
import net from 'node:net';
import { CommandContext, errorReply, runCommand, type ConnectionInfo } from './commands.js';
import { DbError, toDbError } from './errors.js';
import { loadSnapshot, saveSnapshot } from './persistence.js';
import { Store } from './store.js';
import { expireTtlDocuments } from './ttl.js';
import { MAX_MESSAGE_SIZE, OP_MSG, OP_QUERY, encodeOpMsg, encodeOpReply, parseMessage } from './wire.js';

export interface EmbeddedDbOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** When set, a snapshot is loaded from here on start and written on stop. */
  dataDir?: string;
  /** How often expired TTL documents are removed (default 1000 ms). */
  ttlMonitorIntervalMs?: number;
  /** Replica set name advertised in hello. */
  replicaSetName?: string;
}

export interface EmbeddedDb {
  uri: string;
  port: number;
  stop(): Promise<void>;
}

const HEADER_SIZE = 16;

/** One client socket: reassembles messages from chunks and answers them in order. */
function serveConnection(socket: net.Socket, ctx: CommandContext, conn: ConnectionInfo): void {
  let pending: Buffer | undefined;
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());

  const fail = (): void => {
    pending = undefined;
    socket.destroy();
  };

  const handle = (msg: Buffer): void => {
    const requestId = msg.readInt32LE(4);
    const opCode = msg.readInt32LE(12);
    let parsed;
    try {
      parsed = parseMessage(msg);
    } catch (err) {
      // The framing is intact (we know the length), so the client gets an error reply and the connection survives.
      if (opCode === OP_MSG) socket.write(encodeOpMsg(requestId, errorReply(err)));
      else if (opCode === OP_QUERY) socket.write(encodeOpReply(requestId, errorReply(err)));
      else fail();
      return;
    }
    const reply = runCommand(ctx, parsed.command, conn, parsed.legacyDb);
    if (parsed.moreToCome) return;
    let out: Buffer;
    try {
      out = parsed.legacy ? encodeOpReply(requestId, reply) : encodeOpMsg(requestId, reply);
    } catch (err) {
      // e.g. a reply that cannot be serialized or exceeds the BSON size limit
      const e = toDbError(err);
      out = encodeOpMsg(requestId, errorReply(e.code === 1 ? new DbError(10334, `reply too large: ${e.message}`) : e));
    }
    socket.write(out);
  };

  socket.on('data', (chunk: Buffer) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let offset = 0;
    while (buf.length - offset >= 4) {
      const length = buf.readInt32LE(offset);
      if (length < HEADER_SIZE + 5 || length > MAX_MESSAGE_SIZE) {
        fail();
        return;
      }
      if (buf.length - offset < length) break;
      try {
        handle(buf.subarray(offset, offset + length));
      } catch {
        fail();
        return;
      }
      offset += length;
    }
    if (offset < buf.length) {
      buf = buf.subarray(offset);
      // Copy the tail so a large chunk is not kept alive by a small remainder.
      pending = Buffer.from(buf);
    }
  });
}

export async function startEmbeddedDb(options: EmbeddedDbOptions = {}): Promise<EmbeddedDb> {
  const host = options.host ?? '127.0.0.1';
  const store = new Store();
  if (options.dataDir) await loadSnapshot(store, options.dataDir);

  const sockets = new Set<net.Socket>();
  let nextConnectionId = 1;
  // Assigned once listening (the advertised address needs the port); connections before that are refused.
  let ctx: CommandContext | undefined = undefined as CommandContext | undefined;
  const server = net.createServer((socket) => {
    if (!ctx) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, ctx, { id: nextConnectionId++ });
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  ctx = new CommandContext(store, { address, setName: options.replicaSetName ?? 'embedded', startedAt: new Date() });
  const context = ctx;

  const ttlTimer = setInterval(() => {
    try {
      expireTtlDocuments(store);
      context.cursors.reap();
    } catch {
      // A failing sweep must never take the server down; the next tick retries.
    }
  }, options.ttlMonitorIntervalMs ?? 1000);
  ttlTimer.unref();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(ttlTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      context.cursors.clear();
      if (options.dataDir) await saveSnapshot(store, options.dataDir);
    })();
    return stopped;
  };

  return { uri: `mongodb://${address}/?directConnection=true`, port, stop };
}

