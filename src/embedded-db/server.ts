// Embedded MongoDB-compatible server: TCP listener speaking the wire protocol on top of the in-memory store.
import net from 'node:net';
import type { Document } from 'bson';
import { deferredReply } from './change-stream.js';
import { CommandContext, errorReply, runCommand, type ConnectionInfo } from './commands.js';
import { DbError, toDbError } from './errors.js';
import type { Journal } from './journal.js';
import { Persistence } from './persistence.js';
import { scramUser } from './scram.js';
import { Store } from './store.js';
import { expireTtlDocuments } from './ttl.js';
import { MAX_MESSAGE_SIZE, OP_MSG, OP_QUERY, encodeOpMsg, encodeOpReply, parseMessage } from './wire.js';

export interface EmbeddedDbOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /**
   * When set, the data lives here: every change is journaled (acknowledged only once on disk, see
   * `waitsForJournal`), checkpointed into a snapshot periodically and on stop, and recovered on start.
   */
  dataDir?: string;
  /** With a dataDir: false turns the journal off (snapshot on clean stop only; a crash loses everything since start). */
  journal?: boolean;
  /** With a dataDir: how often the journal is folded into the snapshot (default 60 000 ms). */
  checkpointIntervalMs?: number;
  /** How often expired TTL documents are removed (default 60 000 ms, as mongod's TTL monitor; tests may shorten it). */
  ttlMonitorIntervalMs?: number;
  /** Replica set name advertised in hello. */
  replicaSetName?: string;
  /**
   * A user (in the admin database): clients must then authenticate with SCRAM-SHA-256 before any command but the
   * handshake (13 Unauthorized otherwise; a wrong password is 18 AuthenticationFailed). `uri` carries the credentials.
   */
  auth?: { user: string; password: string };
}

export interface EmbeddedDb {
  uri: string;
  port: number;
  stop(): Promise<void>;
}

const HEADER_SIZE = 16;

const JOURNALED_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify', 'bulkWrite']);

/**
 * Whether a write's reply waits for its journal record to be fsynced. The default write concern of a replica set
 * (which this server claims to be) is w: "majority", which implies a journaled write, so everything waits except
 * an explicit w: 0 / w: 1 without j: true — as with mongod, those are acknowledged once applied in memory.
 */
export function waitsForJournal(cmd: Document): boolean {
  const wc = cmd.writeConcern as Document | undefined;
  if (!wc || typeof wc !== 'object') return true;
  if (wc.j === true || wc.fsync === true) return true;
  const w = typeof wc.w === 'object' && wc.w ? Number(wc.w) : wc.w;
  return !(w === 0 || w === 1);
}

/** One client socket: reassembles messages from chunks and answers them in order. */
function serveConnection(socket: net.Socket, ctx: CommandContext, conn: ConnectionInfo, journal: Journal | undefined): void {
  let waiting: Buffer[] = [];
  let waitingBytes = 0;
  /** Bytes the incomplete message at the head of `waiting` needs in total (0: unknown yet). */
  let needed = 0;
  // Replies held back for the journal; later replies queue behind them so a connection's replies stay in order.
  let queue: Promise<void> | undefined;
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());

  const fail = (): void => {
    waiting = [];
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
    const before = journal?.appendedSeq ?? 0;
    const reply = runCommand(ctx, parsed.command, conn, parsed.legacyDb);
    if (parsed.moreToCome) return;
    const later = deferredReply(reply);
    if (later) {
      // An awaitData getMore waiting for change events: its reply takes its turn in the connection's queue.
      const next: Promise<void> = (queue ?? Promise.resolve())
        .then(() => later)
        .then((r) => {
          if (!socket.destroyed) socket.write(encodeOpMsg(requestId, r));
        })
        .finally(() => {
          if (queue === next) queue = undefined;
        });
      queue = next;
      return;
    }
    let waitFor = 0;
    if (journal && waitsForJournal(parsed.command)) {
      // A retried write may be answered from the retry cache while its first attempt is still in the group commit.
      if (journal.appendedSeq > before || JOURNALED_WRITES.has(Object.keys(parsed.command)[0])) waitFor = journal.appendedSeq;
    }
    let out: Buffer;
    try {
      out = parsed.legacy ? encodeOpReply(requestId, reply) : encodeOpMsg(requestId, reply);
    } catch (err) {
      // e.g. a reply that cannot be serialized or exceeds the BSON size limit
      const e = toDbError(err);
      out = encodeOpMsg(requestId, errorReply(e.code === 1 ? new DbError(10334, `reply too large: ${e.message}`) : e));
    }
    if (!queue && (!journal || waitFor <= journal.durableSeq)) {
      socket.write(out);
      return;
    }
    const next: Promise<void> = (queue ?? Promise.resolve())
      .then(() => journal!.waitDurable(waitFor))
      .then(
        () => {
          socket.write(out);
        },
        // Unjournaled means unacknowledged: the client sees the connection drop, never a false success.
        () => {
          socket.destroy();
        },
      )
      .finally(() => {
        if (queue === next) queue = undefined;
      });
    queue = next;
  };

  socket.on('data', (chunk: Buffer) => {
    // A large message arrives in many chunks: keep them in a list and join once it is complete (joining on every
    // chunk copied a 16 MiB message hundreds of times).
    waiting.push(chunk);
    waitingBytes += chunk.length;
    if (needed > 0 && waitingBytes < needed) return;
    let buf = waiting.length === 1 ? waiting[0] : Buffer.concat(waiting, waitingBytes);
    waiting = [];
    waitingBytes = 0;
    needed = 0;
    let offset = 0;
    while (buf.length - offset >= 4) {
      const length = buf.readInt32LE(offset);
      if (length < HEADER_SIZE + 5 || length > MAX_MESSAGE_SIZE) {
        fail();
        return;
      }
      if (buf.length - offset < length) {
        needed = length - (buf.length - offset);
        break;
      }
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
      waiting = [buf.length < 65_536 ? Buffer.from(buf) : buf];
      waitingBytes = buf.length;
      needed = needed > 0 ? buf.length + needed : 0;
    }
  });
}

export async function startEmbeddedDb(options: EmbeddedDbOptions = {}): Promise<EmbeddedDb> {
  const host = options.host ?? '127.0.0.1';
  const store = new Store();
  const persistence = options.dataDir
    ? await Persistence.open(store, options.dataDir, { journal: options.journal, checkpointIntervalMs: options.checkpointIntervalMs })
    : undefined;
  const journal = persistence?.journal;

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
    const conn = { id: nextConnectionId++ };
    socket.on('close', () => {
      sockets.delete(socket);
      // Cursors a connection opened die with it, as in mongod.
      ctx?.cursors.closeConnection(conn.id);
      ctx?.changeStreams.closeConnection(conn.id);
    });
    serveConnection(socket, ctx, conn, journal);
  });
  server.on('error', () => undefined);

  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
  } catch (err) {
    await persistence?.close();
    throw err;
  }
  const port = (server.address() as net.AddressInfo).port;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const users = options.auth ? scramUser(options.auth.user, options.auth.password) : undefined;
  ctx = new CommandContext(store, { address, setName: options.replicaSetName ?? 'embedded', startedAt: new Date(), users });
  const context = ctx;

  const ttlTimer = setInterval(() => {
    try {
      expireTtlDocuments(store);
      context.cursors.reap();
    } catch {
      // A failing sweep must never take the server down; the next tick retries.
    }
  }, options.ttlMonitorIntervalMs ?? 60_000);
  ttlTimer.unref();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(ttlTimer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      context.cursors.clear();
      context.changeStreams.clear();
      await persistence?.close();
    })();
    return stopped;
  };

  const credentials = options.auth ? `${encodeURIComponent(options.auth.user)}:${encodeURIComponent(options.auth.password)}@` : '';
  return { uri: `mongodb://${credentials}${address}/?directConnection=true${options.auth ? '&authSource=admin' : ''}`, port, stop };
}

