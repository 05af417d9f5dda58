// Demo data for `npm run dev`: written through the same atomic ops as the API, once per database.
import type { Db } from 'mongodb';
import { appendRelease, insertPackage } from './packages/package.ops.js';
import { createPost } from './posts/post.ops.js';
import { ensureUser } from './users/user.ops.js';

export const DEMO_USER = { id: 'demo-user', name: 'Demo User' };

/** Creates two packages with releases and a post unless the demo package exists already. */
export async function seedDemoData(db: Db): Promise<boolean> {
  await ensureUser(db, DEMO_USER);
  const created = await insertPackage(db, { name: 'atomic-counter', displayName: 'atomic-counter', summary: 'Counters that never lose an increment', maintainerId: DEMO_USER.id });
  if (!created.ok) return false;
  for (const version of ['0.9.0', '1.0.0', '1.1.0-beta.1']) {
    await appendRelease(db, { name: 'atomic-counter', viewerId: DEMO_USER.id, version, sizeBytes: 12_345, notes: `Release ${version}` });
  }
  await createPost(db, { title: 'Why $inc beats read-modify-write', body: 'Two instances, one counter, zero lost updates.', authorId: DEMO_USER.id, packageName: 'atomic-counter' });
  return true;
}
