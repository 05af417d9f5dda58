// Embedded-only: raw wire-protocol behaviour and robustness against bad input, on a private server instance.
import net from 'node:net';
import { BSON, MongoClient, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDb, type EmbeddedDb } from '../../src/embedded-db/server.js';
import { crc32c } from '../../src/embedded-db/wire.js';

let server: EmbeddedDb;
let client: MongoClient;
let requestId = 1;

beforeAll(async () => {
  server = await startEmbeddedDb({ port: 0 });
  client = new MongoClient(server.uri);
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

function header(length: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId++, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

function opMsg(body: Document, opts: { flags?: number; sequence?: { id: string; docs: Document[] }; checksum?: 'good' | 'bad' } = {}): Buffer {
  let flags = opts.flags ?? 0;
  if (opts.checksum) flags |= 1;
  const parts: Buffer[] = [Buffer.alloc(4), Buffer.from([0]), Buffer.from(BSON.serialize(body))];
  parts[0].writeUInt32LE(flags, 0);
  if (opts.sequence) {
    const docs = opts.sequence.docs.map((d) => Buffer.from(BSON.serialize(d)));
    const id = Buffer.from(opts.sequence.id + '\0');
    const size = Buffer.alloc(4);
    size.writeInt32LE(4 + id.length + docs.reduce((n, d) => n + d.length, 0), 0);
    parts.push(Buffer.from([1]), size, id, ...docs);
  }
  const payload = Buffer.concat(parts);
  const length = 16 + payload.length + (opts.checksum ? 4 : 0);
  const msg = Buffer.concat([header(length, 2013), payload, Buffer.alloc(opts.checksum ? 4 : 0)]);
  if (opts.checksum) msg.writeUInt32LE(opts.checksum === 'good' ? crc32c(msg, 0, length - 4) : 0xdeadbeef, length - 4);
  return msg;
}

function opQuery(ns: string, query: Document): Buffer {
  const payload = Buffer.concat([Buffer.alloc(4), Buffer.from(ns + '\0'), Buffer.from([0, 0, 0, 0, 255, 255, 255, 255]), Buffer.from(BSON.serialize(query))]);
  return Buffer.concat([header(16 + payload.length, 2004), payload]);
}

/** A raw connection that collects whole reply messages. */
class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => undefined);
  }
  static async connect(): Promise<RawClient> {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }
  send(b: Buffer): void {
    this.socket.write(b);
  }
  /** Next reply: opCode and its first document; null when the server closed the connection instead. */
  async reply(timeoutMs = 2000): Promise<{ opCode: number; doc: Document } | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 4 && this.buf.length >= this.buf.readInt32LE(0)) {
        const len = this.buf.readInt32LE(0);
        const msg = this.buf.subarray(0, len);
        this.buf = this.buf.subarray(len);
        const opCode = msg.readInt32LE(12);
        const docStart = opCode === 1 ? 36 : 21;
        return { opCode, doc: BSON.deserialize(msg.subarray(docStart)) };
      }
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a reply');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

async function stillServing(): Promise<void> {
  const res = await client.db('proto').command({ ping: 1 });
  expect(res.ok).toBe(1);
}

describe('handshake', () => {
  it('answers a legacy OP_QUERY isMaster with OP_REPLY', async () => {
    const raw = await RawClient.connect();
    raw.send(opQuery('admin.$cmd', { isMaster: 1, helloOk: true }));
    const r = await raw.reply();
    expect(r?.opCode).toBe(1);
    expect(r?.doc).toMatchObject({ ismaster: true, helloOk: true, maxWireVersion: 25, maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: 48_000_000, maxWriteBatchSize: 100_000 });
    raw.close();
  });

  it('presents a single-node replica set primary at the address clients dial', async () => {
    const hello = await client.db('admin').command({ hello: 1 });
    const address = new URL(server.uri).host;
    expect(hello).toMatchObject({ isWritablePrimary: true, setName: expect.any(String), hosts: [address], primary: address, me: address });
    expect(hello.logicalSessionTimeoutMinutes).toBeGreaterThan(0);
  });
});

describe('OP_MSG details', () => {
  it('accepts a valid CRC-32C checksum and rejects a bad one without closing', async () => {
    const raw = await RawClient.connect();
    raw.send(opMsg({ ping: 1, $db: 'proto' }, { checksum: 'good' }));
    expect((await raw.reply())?.doc.ok).toBe(1);
    raw.send(opMsg({ ping: 1, $db: 'proto' }, { checksum: 'bad' }));
    const bad = await raw.reply();
    expect(bad?.doc.ok).toBe(0);
    expect(bad?.doc.errmsg).toMatch(/checksum/);
    raw.send(opMsg({ ping: 1, $db: 'proto' }));
    expect((await raw.reply())?.doc.ok).toBe(1);
    raw.close();
  });

  it('folds kind-1 document sequences into the command', async () => {
    const raw = await RawClient.connect();
    raw.send(opMsg({ insert: 'seq', $db: 'proto' }, { sequence: { id: 'documents', docs: [{ _id: 1 }, { _id: 2 }] } }));
    expect((await raw.reply())?.doc).toMatchObject({ ok: 1, n: 2 });
    raw.close();
    expect(await client.db('proto').collection('seq').countDocuments()).toBe(2);
  });

  it('sends no reply when moreToCome is set, but applies the write', async () => {
    const raw = await RawClient.connect();
    raw.send(opMsg({ insert: 'fire', documents: [{ _id: 'f' }], $db: 'proto', writeConcern: { w: 0 } }, { flags: 2 }));
    raw.send(opMsg({ find: 'fire', filter: {}, $db: 'proto' }));
    const r = await raw.reply();
    expect(r?.doc.cursor.firstBatch).toEqual([{ _id: 'f' }]);
    raw.close();
  });

  it('deduplicates a raw retried insert by lsid + txnNumber and repeats the reply', async () => {
    const raw = await RawClient.connect();
    const lsid = { id: new BSON.UUID() };
    const cmd = { insert: 'retry', documents: [{ v: 1 }], $db: 'proto', lsid, txnNumber: BSON.Long.fromNumber(5) };
    raw.send(opMsg(cmd));
    const first = await raw.reply();
    raw.send(opMsg(cmd));
    const second = await raw.reply();
    expect(first?.doc).toEqual({ n: 1, ok: 1 });
    expect(second?.doc).toEqual(first?.doc);
    expect(await client.db('proto').collection('retry').countDocuments()).toBe(1);
    raw.close();
  });
});

describe('bad input', () => {
  it('garbage inside a well-framed message gets an error reply and leaves other clients alone', async () => {
    const raw = await RawClient.connect();
    const garbage = Buffer.concat([header(16 + 4 + 1 + 12, 2013), Buffer.alloc(4), Buffer.from([0]), Buffer.from([40, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7])]);
    raw.send(garbage);
    const r = await raw.reply();
    expect(r?.doc.ok).toBe(0);
    await stillServing();
    raw.close();
  });

  it('an absurd length closes only that connection', async () => {
    const raw = await RawClient.connect();
    const h = header(100_000_000, 2013);
    raw.send(h);
    expect(await raw.reply()).toBeNull();
    await stillServing();
  });

  it('an unknown opCode and a truncated header close only that connection', async () => {
    const raw = await RawClient.connect();
    raw.send(Buffer.concat([header(26, 9999), Buffer.alloc(10)]));
    expect(await raw.reply()).toBeNull();
    const raw2 = await RawClient.connect();
    raw2.send(Buffer.from([5, 0, 0, 0, 1]));
    expect(await raw2.reply()).toBeNull();
    await stillServing();
  });

  it('a client that disconnects mid-message does not disturb the server', async () => {
    const raw = await RawClient.connect();
    raw.send(opMsg({ insert: 'half', documents: [{ a: 1 }], $db: 'proto' }).subarray(0, 30));
    raw.close();
    await stillServing();
    expect(await client.db('proto').collection('half').countDocuments()).toBe(0);
  });

  it('refuses documents over 16 MiB, $-prefixed _id subfields and empty field names, with nothing stored', async () => {
    const raw = await RawClient.connect();
    const big = { _id: 'big', s: 'x'.repeat(16 * 1024 * 1024) };
    raw.send(opMsg({ insert: 'bad', $db: 'proto' }, { sequence: { id: 'documents', docs: [big] } }));
    const tooBig = await raw.reply(10_000);
    expect(tooBig?.doc.ok === 0 || (tooBig?.doc.writeErrors ?? []).length === 1).toBe(true);
    raw.send(opMsg({ insert: 'bad', documents: [{ _id: { $x: 1 } }, { '': 1 }, { ok: 1 }], ordered: false, $db: 'proto' }));
    const names = await raw.reply();
    expect(names?.doc.n).toBe(1);
    expect(names?.doc.writeErrors.map((e: Document) => e.index)).toEqual([0, 1]);
    raw.close();
    expect(await client.db('proto').collection('bad').find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ ok: 1 }]);
  });

  it('unknown command fields are rejected instead of ignored', async () => {
    const raw = await RawClient.connect();
    raw.send(opMsg({ find: 'x', filter: {}, frob: 1, $db: 'proto' }));
    const r = await raw.reply();
    expect(r?.doc).toMatchObject({ ok: 0, code: 40415 });
    raw.send(opMsg({ find: 'x', filter: {}, min: { a: 1 }, $db: 'proto' }));
    expect((await raw.reply())?.doc).toMatchObject({ ok: 0, code: 115 });
    raw.close();
  });
});
