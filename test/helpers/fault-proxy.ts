// A TCP proxy on 127.0.0.1 between a MongoDB client and its server that resets connections at chosen moments of
// the wire protocol: before a request reaches the server, halfway through it, or after the server applied it and
// before its reply reaches the client (the case that makes a retry apply a write twice unless something dedupes it).
import net from 'node:net';
import { BSON, type Document } from 'bson';

export interface FaultRates {
  /** The request never reaches the server: the connection is reset instead of forwarding it. */
  dropRequest: number;
  /** Half of the request reaches the server, then the connection closes; the server discards the fragment. */
  cutRequest: number;
  /** The server receives and applies the request; the connection is reset when its reply arrives, unforwarded. */
  dropReply: number;
  /** As dropReply, but half of the reply is delivered before the reset. */
  cutReply: number;
}

export type FaultKind = keyof FaultRates;

export interface FaultEvent {
  kind: FaultKind;
  command: string;
  /** lsid.id (hex) and txnNumber of the faulted request when it had them: identifies a retryable write. */
  lsid?: string;
  txnNumber?: number;
}

export interface FaultProxy {
  /** A connection string for clients: this proxy, directConnection, and the given extra options. */
  uri(options?: Record<string, string | number | boolean>): string;
  port: number;
  /** The seed of this proxy's fault dice (set FAULT_SEED to it to repeat a run's faults). */
  seed: number;
  /** Changes the fault rates for every later message (0 everywhere = a transparent proxy). */
  setFaults(rates: Partial<FaultRates>): void;
  /** Every fault injected so far, in order. */
  readonly faults: readonly FaultEvent[];
  /** Messages forwarded from clients so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** The server: a mongodb:// URI (its first host is used) or host:port. */
  target: string;
  rates?: Partial<FaultRates>;
  /** Which commands may be faulted; by default all but the handshake and monitoring (see below). */
  faultable?: (command: string) => boolean;
  /** Seed of the fault dice, so a failing run can be repeated (FAULT_SEED overrides it). */
  seed?: number;
}

// Handshakes and the driver's server monitoring are never faulted: a reset there makes the driver mark the server
// unknown and pause every operation until the next heartbeat, which tests the driver's topology code, not ours.
const NEVER_FAULTED = new Set(['hello', 'isMaster', 'ismaster', 'saslStart', 'saslContinue', 'endSessions', 'ping', 'buildInfo']);

const OP_MSG = 2013;
const HEADER = 16;
const MORE_TO_COME = 0x2;

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { host, port: targetPort } = parseTarget(options.target);
  const rates: FaultRates = { dropRequest: 0, cutRequest: 0, dropReply: 0, cutReply: 0, ...options.rates };
  const faultable = options.faultable ?? (() => true);
  const seed = Number(process.env.FAULT_SEED ?? options.seed ?? Math.floor(Math.random() * 2 ** 31));
  const random = mulberry32(seed);
  const faults: FaultEvent[] = [];
  let requests = 0;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // requestId -> what to do with its reply
    const replyFaults = new Map<number, 'dropReply' | 'cutReply'>();
    let closed = false;
    const reset = (): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', reset);
      socket.on('close', () => {
        sockets.delete(socket);
        reset();
      });
    }

    splitMessages(client, (message) => {
      if (closed) return;
      requests++;
      const command = commandName(message);
      const expectsReply = message.readInt32LE(12) !== OP_MSG || (message.readUInt32LE(HEADER) & MORE_TO_COME) === 0;
      const kind = command !== null && !NEVER_FAULTED.has(command) && faultable(command) ? roll(random(), rates) : null;
      if (kind === null || ((kind === 'dropReply' || kind === 'cutReply') && !expectsReply)) {
        upstream.write(message);
        return;
      }
      faults.push({ kind, command: command!, ...sessionOf(message) });
      if (kind === 'dropRequest') return reset();
      if (kind === 'cutRequest') {
        // The fragment is flushed before the close, so the server really sees a partial message.
        upstream.end(message.subarray(0, Math.max(1, message.length >> 1)));
        client.destroy();
        closed = true;
        return;
      }
      replyFaults.set(message.readInt32LE(4), kind);
      upstream.write(message);
    });

    splitMessages(upstream, (message) => {
      if (closed) return;
      const fault = replyFaults.get(message.readInt32LE(8));
      if (fault === undefined) {
        client.write(message);
        return;
      }
      if (fault === 'dropReply') return reset();
      client.end(message.subarray(0, Math.max(1, message.length >> 1)));
      upstream.destroy();
      closed = true;
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    seed,
    uri(extra = {}) {
      const params = new URLSearchParams({ directConnection: 'true', ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])) });
      return `mongodb://127.0.0.1:${port}/?${params}`;
    },
    setFaults(next) {
      Object.assign(rates, next);
    },
    get faults() {
      return faults;
    },
    get requests() {
      return requests;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Calls onMessage with each complete wire-protocol message (length-prefixed) read from the socket. */
function splitMessages(socket: net.Socket, onMessage: (message: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readInt32LE(0);
      if (length < HEADER || pending.length < length) break;
      onMessage(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  });
}

/** The command of an OP_MSG (first key of its body section); null for other opcodes (legacy handshakes). */
function commandName(message: Buffer): string | null {
  if (message.length < HEADER + 11 || message.readInt32LE(12) !== OP_MSG) return null;
  let offset = HEADER + 4;
  // Sections: kind 1 (document sequence) may come before the kind 0 body; skip them.
  while (offset < message.length && message[offset] === 1) offset += 1 + message.readInt32LE(offset + 1);
  if (message[offset] !== 0) return null;
  const nameStart = offset + 1 + 4 + 1;
  const nameEnd = message.indexOf(0, nameStart);
  return nameEnd > nameStart ? message.toString('utf8', nameStart, nameEnd) : null;
}

function sessionOf(message: Buffer): { lsid?: string; txnNumber?: number } {
  const body = bodyOf(message);
  if (!body) return {};
  const id = (body.lsid as Document | undefined)?.id;
  return {
    ...(id instanceof BSON.Binary ? { lsid: Buffer.from(id.buffer).toString('hex') } : {}),
    ...(body.txnNumber !== undefined ? { txnNumber: Number(body.txnNumber) } : {}),
  };
}

function bodyOf(message: Buffer): Document | null {
  if (message.readInt32LE(12) !== OP_MSG) return null;
  let offset = HEADER + 4;
  while (offset < message.length && message[offset] === 1) offset += 1 + message.readInt32LE(offset + 1);
  if (message[offset] !== 0) return null;
  const size = message.readInt32LE(offset + 1);
  return BSON.deserialize(message.subarray(offset + 1, offset + 1 + size));
}

function roll(dice: number, rates: FaultRates): FaultKind | null {
  let edge = 0;
  for (const kind of ['dropRequest', 'cutRequest', 'dropReply', 'cutReply'] as const) {
    edge += rates[kind];
    if (dice < edge) return kind;
  }
  return null;
}

function parseTarget(target: string): { host: string; port: number } {
  const hostPort = target.startsWith('mongodb://') ? target.slice('mongodb://'.length).split(/[/?]/)[0]!.split('@').pop()!.split(',')[0]! : target;
  const colon = hostPort.lastIndexOf(':');
  return colon === -1 ? { host: hostPort, port: 27017 } : { host: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)) };
}

/** A small seeded PRNG (uniform in [0, 1)), so fault sequences are repeatable from a seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
