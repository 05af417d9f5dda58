// MongoDB wire protocol framing: parses OP_MSG / OP_QUERY requests and encodes OP_MSG / OP_REPLY responses.
import { BSON, type Document } from 'bson';
import { DbError } from './errors.js';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_MSG = 2013;

export const FLAG_CHECKSUM = 1;
export const FLAG_MORE_TO_COME = 2;

export const MAX_MESSAGE_SIZE = 48_000_000;
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** Options shared by every decode: numbers stay JS numbers unless they do not fit, bson value classes stay intact. */
export const DESERIALIZE_OPTIONS = { promoteLongs: true, promoteValues: true, promoteBuffers: false } as const;

export interface ParsedMessage {
  requestId: number;
  opCode: number;
  /** Command document with kind-1 sequences folded in (as mongod does). */
  command: Document;
  moreToCome: boolean;
  /** True for the legacy OP_QUERY handshake, which must be answered with OP_REPLY. */
  legacy: boolean;
  /** Database taken from the OP_QUERY namespace ("admin.$cmd" -> "admin"). */
  legacyDb?: string;
}

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the checksum OP_MSG uses when flagBits has bit 0 set. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = ~0;
  for (let i = start; i < end; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

function readCString(buf: Buffer, offset: number, end: number): [string, number] {
  const zero = buf.indexOf(0, offset);
  if (zero < 0 || zero >= end) throw new DbError(9, 'unterminated cstring in message');
  return [buf.toString('utf8', offset, zero), zero + 1];
}

function readDocument(buf: Buffer, offset: number, end: number): [Document, number] {
  if (offset + 5 > end) throw new DbError(9, 'truncated BSON document in message');
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > end) throw new DbError(9, 'invalid BSON document length in message');
  if (size > MAX_BSON_SIZE + 16 * 1024) throw new DbError(10334, `BSONObj size: ${size} is invalid. Size must be between 0 and 16793600(16MB)`);
  const doc = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE_OPTIONS);
  return [doc, offset + size];
}

/** Parses one complete message (header included). Throws DbError on malformed input. */
export function parseMessage(buf: Buffer): ParsedMessage {
  const length = buf.readInt32LE(0);
  const requestId = buf.readInt32LE(4);
  const opCode = buf.readInt32LE(12);
  if (opCode === OP_MSG) {
    const flags = buf.readUInt32LE(16);
    // Unknown "required" bits (0-15 other than the two we know) must make the message fail, per the spec.
    if (flags & 0xfffc) throw new DbError(9, `unsupported OP_MSG flag bits: ${flags}`);
    let end = length;
    if (flags & FLAG_CHECKSUM) {
      end -= 4;
      if (end < 21) throw new DbError(9, 'OP_MSG too short for checksum');
      const expected = buf.readUInt32LE(end);
      if (crc32c(buf, 0, end) !== expected) throw new DbError(9, 'OP_MSG checksum mismatch');
    }
    let offset = 20;
    let body: Document | undefined;
    const sequences: [string, Document[]][] = [];
    while (offset < end) {
      const kind = buf[offset++];
      if (kind === 0) {
        if (body) throw new DbError(9, 'OP_MSG has more than one body section');
        [body, offset] = readDocument(buf, offset, end);
      } else if (kind === 1) {
        if (offset + 4 > end) throw new DbError(9, 'truncated OP_MSG document sequence');
        const size = buf.readInt32LE(offset);
        const seqEnd = offset + size;
        if (size < 5 || seqEnd > end) throw new DbError(9, 'invalid OP_MSG document sequence length');
        let id: string;
        [id, offset] = readCString(buf, offset + 4, seqEnd);
        const docs: Document[] = [];
        while (offset < seqEnd) {
          let doc: Document;
          [doc, offset] = readDocument(buf, offset, seqEnd);
          docs.push(doc);
        }
        sequences.push([id, docs]);
      } else {
        throw new DbError(9, `unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new DbError(9, 'OP_MSG has no body section');
    for (const [id, docs] of sequences) {
      if (id in body) throw new DbError(9, `duplicate field ${id} in OP_MSG body and document sequence`);
      body[id] = docs;
    }
    return { requestId, opCode, command: body, moreToCome: (flags & FLAG_MORE_TO_COME) !== 0, legacy: false };
  }
  if (opCode === OP_QUERY) {
    const [ns, afterNs] = readCString(buf, 20, length);
    let offset = afterNs;
    offset += 8; // numberToSkip, numberToReturn: irrelevant for commands
    const [query] = readDocument(buf, offset, length);
    if (!ns.endsWith('.$cmd')) throw new DbError(9, 'OP_QUERY is only supported for commands');
    // Drivers wrap the command as {$query: cmd, $readPreference: ...} when a read preference is set.
    const command = query.$query && typeof query.$query === 'object' ? (query.$query as Document) : query;
    return { requestId, opCode, command, moreToCome: false, legacy: true, legacyDb: ns.slice(0, -5) };
  }
  throw new DbError(9, `unsupported opCode ${opCode}`);
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.allocUnsafe(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(nextRequestId++ & 0x7fffffff, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** Encodes a reply as OP_MSG with a single kind-0 section. */
export function encodeOpMsg(responseTo: number, doc: Document | Uint8Array): Buffer {
  const body = doc instanceof Uint8Array ? doc : BSON.serialize(doc);
  const length = 16 + 4 + 1 + body.length;
  const out = Buffer.allocUnsafe(length);
  header(length, responseTo, OP_MSG).copy(out, 0);
  out.writeUInt32LE(0, 16);
  out[20] = 0;
  out.set(body, 21);
  return out;
}

/** Encodes a legacy OP_REPLY carrying one document (used only for the OP_QUERY handshake). */
export function encodeOpReply(responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const length = 16 + 20 + body.length;
  const out = Buffer.allocUnsafe(length);
  header(length, responseTo, OP_REPLY).copy(out, 0);
  out.writeInt32LE(8, 16); // AwaitCapable, as mongod sets it
  out.writeBigInt64LE(0n, 20);
  out.writeInt32LE(0, 28);
  out.writeInt32LE(1, 32);
  out.set(body, 36);
  return out;
}
