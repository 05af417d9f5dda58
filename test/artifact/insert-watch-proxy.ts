// A TCP proxy between a function and MongoDB that forwards everything, except that it withholds the server's reply to
// the first insert into a chosen collection and reports that the insert was applied. The test then kills the function:
// the write happened, its caller never learned it, which is a function instance crashing right after the insert.
import net from 'node:net';
import { BSON } from 'bson';

const OP_MSG = 2013;

export interface InsertWatchProxy {
  port: number;
  uri: string;
  /** Resolves once the server has applied the watched insert (its reply is then withheld for good). */
  applied: Promise<void>;
  close(): Promise<void>;
}

/** The insert command's target collection, or null for anything else (OP_MSG body section, kind 0). */
function insertTarget(message: Buffer): string | null {
  if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return null;
  const body = BSON.deserialize(message.subarray(21, 21 + message.readInt32LE(21)));
  return typeof body.insert === 'string' ? body.insert : null;
}

/** Splits a byte stream into whole wire-protocol messages (each starts with its int32 length). */
function framer(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0);
      onMessage(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  };
}

export async function startInsertWatchProxy(target: string, collection: string): Promise<InsertWatchProxy> {
  const { hostname, port: targetPort } = new URL(target.replace(/^mongodb:\/\//, 'http://'));
  let resolveApplied!: () => void;
  const applied = new Promise<void>((resolve) => (resolveApplied = resolve));
  let watchedRequestId: number | null = null;
  let seen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on(
      'data',
      framer((message) => {
        if (!seen && insertTarget(message) === collection) {
          seen = true;
          watchedRequestId = message.readInt32LE(4);
        }
        upstream.write(message);
      }),
    );
    upstream.on(
      'data',
      framer((message) => {
        if (watchedRequestId !== null && message.readInt32LE(8) === watchedRequestId) {
          resolveApplied();
          return;
        }
        client.write(message);
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    applied,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
