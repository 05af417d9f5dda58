// registryStats: totals across the registry.
import { builder } from '../builder.js';
import { findRegistryStats } from './stats.ops.js';

const RegistryStats = builder.objectRef<{ totalPackages: number; totalReleases: number; totalPosts: number }>('RegistryStats').implement({
  fields: (t) => ({
    totalPackages: t.exposeInt('totalPackages'),
    totalReleases: t.exposeInt('totalReleases'),
    totalPosts: t.exposeInt('totalPosts'),
  }),
});

builder.queryField('registryStats', (t) =>
  t.field({ type: RegistryStats, resolve: (_root, _args, ctx) => findRegistryStats(ctx.db) }),
);
