// Optional snapshot persistence: all databases, collections, index specs and documents as a stream of BSON records.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BSON, type Document } from 'bson';
import { Store } from './store.js';
import { DESERIALIZE_OPTIONS } from './wire.js';

const FILE_NAME = 'embedded-db.snapshot.bson';
const FORMAT = 'embedded-db-snapshot';

export function snapshotPath(dataDir: string): string {
  return path.join(dataDir, FILE_NAME);
}

/** Each record is its own BSON document so the snapshot is not bound by the 16 MiB document limit. */
export async function saveSnapshot(store: Store, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const parts: Uint8Array[] = [BSON.serialize({ t: 'header', format: FORMAT, version: 1, savedAt: new Date() })];
  for (const [db, colls] of store.dbs) {
    for (const coll of colls.values()) {
      parts.push(BSON.serialize({ t: 'coll', db, name: coll.name, indexes: coll.indexes.map((i) => i.spec) }));
      for (const doc of coll.docs.values()) parts.push(BSON.serialize({ t: 'doc', d: doc }));
    }
  }
  const file = snapshotPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, Buffer.concat(parts));
  // rename is atomic, so a crash mid-write never leaves a half snapshot in place.
  await rename(tmp, file);
}

export async function loadSnapshot(store: Store, dataDir: string): Promise<boolean> {
  let buf: Buffer;
  try {
    buf = await readFile(snapshotPath(dataDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  let offset = 0;
  let current: ReturnType<Store['ensureCollection']> | undefined;
  let first = true;
  while (offset < buf.length) {
    if (offset + 4 > buf.length) throw new Error('embedded-db snapshot is truncated');
    const size = buf.readInt32LE(offset);
    if (size < 5 || offset + size > buf.length) throw new Error('embedded-db snapshot is truncated');
    const rec: Document = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE_OPTIONS);
    offset += size;
    if (first) {
      if (rec.t !== 'header' || rec.format !== FORMAT) throw new Error('not an embedded-db snapshot');
      first = false;
      continue;
    }
    if (rec.t === 'coll') {
      current = store.ensureCollection(rec.db as string, rec.name as string);
      for (const spec of rec.indexes as Document[]) current.addIndex(spec);
    } else if (rec.t === 'doc' && current) {
      current.insert(rec.d as Document);
    }
  }
  return true;
}
