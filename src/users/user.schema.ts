// User type (loaded in batches by id) and the viewer query.
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { findUsersByIds } from './user.ops.js';

export interface UserShape {
  id: string;
  name: string | null;
}

export const User = builder.loadableObject('User', {
  load: async (ids: string[], ctx): Promise<UserShape[]> => {
    const docs = await findUsersByIds(ctx.db, ids);
    const byId = new Map(docs.map((doc) => [doc._id, doc]));
    // A user known only from another document (not yet written) still resolves, with no name.
    return ids.map((id) => ({ id, name: byId.get(id)?.name ?? null }));
  },
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name', { nullable: true }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    extensions: cacheHint({ private: true }),
    type: User,
    nullable: true,
    description: 'The signed-in user, or null without a token.',
    resolve: (_root, _args, ctx) => ctx.viewer?.id ?? null,
  }),
);
