// Checksummed record framing shared by the journal and the snapshot: [u32 length][u32 CRC-32][payload], after an 8-byte file magic.
import { crc32 } from 'node:zlib';
import { BSON, type Document } from 'bson';
import { DESERIALIZE_OPTIONS } from './wire.js';

export const FRAME_HEADER = 8;
export const MAGIC_SIZE = 8;
/** A record never legitimately exceeds two 16 MiB documents plus metadata; anything larger is a damaged length. */
const MAX_PAYLOAD = 40 * 1024 * 1024;

/** Raised when a data file cannot be trusted; the server refuses to start and leaves the file as it is. */
export class CorruptFileError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(
      `embedded-db: ${file} is corrupt at offset ${offset}: ${reason}. Refusing to start; the file was left untouched ` +
        `(move it aside or restore it to start, knowing that data it holds would be lost).`,
    );
    this.name = 'CorruptFileError';
  }
}

/** One frame whose payload is the concatenation of the given BSON documents (a metadata document, then optionally a stored document). */
export function encodeFrame(meta: Document, doc?: Document): Buffer {
  const parts = [BSON.serialize(meta)];
  if (doc) parts.push(BSON.serialize(doc));
  const length = parts.reduce((n, p) => n + p.length, 0);
  const out = Buffer.allocUnsafe(FRAME_HEADER + length);
  let at = FRAME_HEADER;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.writeUInt32LE(length, 0);
  out.writeUInt32LE(crc32(out.subarray(FRAME_HEADER)), 4);
  return out;
}

export interface Frame {
  offset: number;
  /** The BSON documents in the payload, in order. */
  docs: Document[];
}

export interface ReadFramesResult {
  frames: Frame[];
  /** Offset of a torn final record that was ignored (only when `tolerateTornTail`). */
  tornAt?: number;
}

function decodePayload(file: string, offset: number, payload: Buffer): Document[] {
  const docs: Document[] = [];
  let at = 0;
  while (at < payload.length) {
    const size = payload.length - at >= 4 ? payload.readInt32LE(at) : -1;
    if (size < 5 || at + size > payload.length) throw new CorruptFileError(file, offset, 'record holds a malformed BSON document');
    try {
      docs.push(BSON.deserialize(payload.subarray(at, at + size), DESERIALIZE_OPTIONS));
    } catch (err) {
      throw new CorruptFileError(file, offset, `record holds invalid BSON (${(err as Error).message})`);
    }
    at += size;
  }
  return docs;
}

/**
 * Reads every frame after the magic. A record cut short by the end of the file (or a final record whose checksum
 * fails, or a zero-filled tail) is what a crash mid-append leaves: with `tolerateTornTail` it is reported and
 * ignored, otherwise, and for any damaged record followed by more data, a CorruptFileError names the offset.
 */
export function readFrames(buf: Buffer, file: string, magic: Buffer, tolerateTornTail: boolean): ReadFramesResult {
  if (buf.length < MAGIC_SIZE || !buf.subarray(0, MAGIC_SIZE).equals(magic)) {
    throw new CorruptFileError(file, 0, buf.length === 0 ? 'the file is empty' : 'the file does not start with the expected header');
  }
  const frames: Frame[] = [];
  let offset = MAGIC_SIZE;
  const torn = (reason: string): ReadFramesResult => {
    if (tolerateTornTail) return { frames, tornAt: offset };
    throw new CorruptFileError(file, offset, reason);
  };
  while (offset < buf.length) {
    if (buf.length - offset < FRAME_HEADER) return torn('the last record is truncated');
    const length = buf.readUInt32LE(offset);
    const crc = buf.readUInt32LE(offset + 4);
    if (length === 0 && crc === 0 && buf.subarray(offset).every((b) => b === 0)) return torn('the file ends in zeros');
    const end = offset + FRAME_HEADER + length;
    if (length > MAX_PAYLOAD || end > buf.length) {
      if (end >= buf.length) return torn('the last record is truncated');
      throw new CorruptFileError(file, offset, `record length ${length} is impossible`);
    }
    const payload = buf.subarray(offset + FRAME_HEADER, end);
    if (crc32(payload) !== crc) {
      if (end === buf.length) return torn('the last record fails its checksum');
      throw new CorruptFileError(file, offset, 'record fails its checksum');
    }
    frames.push({ offset, docs: decodePayload(file, offset, payload) });
    offset = end;
  }
  return { frames };
}
