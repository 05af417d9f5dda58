// Embedded-only: a server started with a user speaks SCRAM-SHA-256 to the real driver (its own instance, since the suite's database has no users).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Binary, BSON, MongoClient, MongoServerError, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedDb, type EmbeddedDb } from '../../src/embedded-db/server.js';
import { encodeOpMsg } from '../../src/embedded-db/wire.js';
import { serverError } from '../helpers/db.js';

const USER = 'app';
const PASSWORD = 'p@ss:wörd/1';
let server: EmbeddedDb;
let base: string;

const uri = (user: string, password: string, extra = ''): string =>
  `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${base}/?directConnection=true&authSource=admin${extra}`;

beforeAll(async () => {
  server = await startEmbeddedDb({ port: 0, auth: { user: USER, password: PASSWORD } });
  base = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.stop();
});

async function connectError(u: string): Promise<unknown> {
  const client = new MongoClient(u, { serverSelectionTimeoutMS: 2000 });
  try {
    await client.connect();
    await client.db('x').command({ ping: 1 });
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await client.close();
  }
}

describe('SCRAM-SHA-256', () => {
  it('the right password authenticates through the driver, and the connection may read and write', async () => {
    expect(server.uri).toBe(uri(USER, PASSWORD));
    const client = new MongoClient(server.uri);
    try {
      const c = client.db('auth').collection('docs');
      await c.insertOne({ _id: 1 as never });
      expect(await c.countDocuments()).toBe(1);
      const status = await client.db('admin').command({ connectionStatus: 1 });
      expect(status.authInfo.authenticatedUsers).toEqual([{ user: USER, db: 'admin' }]);
    } finally {
      await client.close();
    }
  });

  it('works with the mechanism named explicitly, over a pool of connections', async () => {
    const client = new MongoClient(uri(USER, PASSWORD, '&authMechanism=SCRAM-SHA-256'), { maxPoolSize: 4 });
    try {
      await Promise.all(Array.from({ length: 12 }, (_, i) => client.db('auth').collection('pool').insertOne({ i })));
      expect(await client.db('auth').collection('pool').countDocuments()).toBe(12);
    } finally {
      await client.close();
    }
  });

  it('a wrong password, an unknown user or another authSource fail with 18 AuthenticationFailed', async () => {
    for (const u of [uri(USER, 'wrong'), uri('nobody', PASSWORD), uri(USER, PASSWORD).replace('authSource=admin', 'authSource=app')]) {
      const err = await connectError(u);
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(18);
    }
  });

  it('SCRAM-SHA-1 is not offered (334 MechanismUnavailable)', async () => {
    const err = await connectError(uri(USER, PASSWORD, '&authMechanism=SCRAM-SHA-1'));
    expect((err as MongoServerError).code).toBe(334);
  });

  it('without credentials only the handshake answers: everything else is 13 Unauthorized', async () => {
    const client = new MongoClient(`mongodb://${base}/?directConnection=true`);
    try {
      expect((await client.db('admin').command({ ping: 1 })).ok).toBe(1);
      const status = await client.db('admin').command({ connectionStatus: 1 });
      expect(status.authInfo.authenticatedUsers).toEqual([]);
      const err = await serverError(client.db('auth').collection('docs').findOne());
      expect(err.code).toBe(13);
      expect(err.codeName).toBe('Unauthorized');
      expect((await serverError(client.db('auth').collection('docs').insertOne({ sneaky: true }))).code).toBe(13);
      expect((await serverError(client.db('admin').command({ listDatabases: 1 }))).code).toBe(13);
    } finally {
      await client.close();
    }
    // Nothing was written by the refused insert.
    const admin = new MongoClient(server.uri);
    try {
      expect(await admin.db('auth').collection('docs').countDocuments({ sneaky: true })).toBe(0);
    } finally {
      await admin.close();
    }
  });

  it('the protocol step by step: speculative first step in hello, then saslContinue, with and without the empty exchange', async () => {
    for (const speculative of [true, false]) {
      const conn = await RawConnection.open();
      try {
        const nonce = randomBytes(18).toString('base64');
        const clientFirstBare = `n=${USER},r=${nonce}`;
        const start = { saslStart: 1, mechanism: 'SCRAM-SHA-256', payload: new Binary(Buffer.from(`n,,${clientFirstBare}`)), ...(speculative ? { db: 'admin' } : { options: {} }) };
        const first = speculative
          ? ((await conn.command({ hello: 1, speculativeAuthenticate: { ...start, options: { skipEmptyExchange: true } }, $db: 'admin' })).speculativeAuthenticate as Document)
          : await conn.command({ ...start, $db: 'admin' });
        expect(first).toMatchObject({ done: false });
        const serverFirst = text(first.payload);
        const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
        expect(attrs.r.startsWith(nonce)).toBe(true);
        expect(Number(attrs.i)).toBeGreaterThanOrEqual(4096);
        const salted = pbkdf2Sync(PASSWORD.normalize('NFKC'), Buffer.from(attrs.s, 'base64'), Number(attrs.i), 32, 'sha256');
        const clientKey = createHmac('sha256', salted).update('Client Key').digest();
        const withoutProof = `c=biws,r=${attrs.r}`;
        const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
        const signature = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(authMessage).digest();
        const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
        expect((await conn.command({ find: 'docs', $db: 'auth' })).code).toBe(13);
        const final = await conn.command({ saslContinue: 1, conversationId: first.conversationId, payload: new Binary(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)), $db: 'admin' });
        const serverKey = createHmac('sha256', salted).update('Server Key').digest();
        expect(text(final.payload)).toBe(`v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}`);
        expect(final.done).toBe(speculative);
        if (!speculative) expect(await conn.command({ saslContinue: 1, conversationId: first.conversationId, payload: new Binary(Buffer.alloc(0)), $db: 'admin' })).toMatchObject({ done: true, ok: 1 });
        expect(await conn.command({ find: 'docs', $db: 'auth' })).toMatchObject({ ok: 1 });
      } finally {
        conn.close();
      }
    }
  });
});

const text = (payload: unknown): string => Buffer.from((payload as Binary).buffer.subarray(0, (payload as Binary).position)).toString('utf8');

/** One socket, one command at a time (authentication belongs to a connection). */
class RawConnection {
  private buf = Buffer.alloc(0);
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => (this.buf = Buffer.concat([this.buf, d])));
  }
  static async open(): Promise<RawConnection> {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawConnection(socket);
  }
  async command(body: Document): Promise<Document> {
    this.socket.write(encodeOpMsg(0, body));
    while (this.buf.length < 4 || this.buf.length < this.buf.readInt32LE(0)) await new Promise((r) => setTimeout(r, 2));
    const len = this.buf.readInt32LE(0);
    const reply = BSON.deserialize(this.buf.subarray(21, len), { promoteBuffers: false });
    this.buf = this.buf.subarray(len);
    return reply;
  }
  close(): void {
    this.socket.destroy();
  }
}
