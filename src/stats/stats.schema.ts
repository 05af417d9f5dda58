// registryStats: totals across the registry, derived on read (src/stats/stats.ops.ts says why).
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { findRegistryStats, type RegistryStats as RegistryStatsShape } from './stats.ops.js';

const RegistryStats = builder.objectRef<RegistryStatsShape>('RegistryStats').implement({
  fields: (t) => ({
    totalPackages: t.exposeInt('totalPackages'),
    totalReleases: t.exposeInt('totalReleases'),
    totalPosts: t.exposeInt('totalPosts'),
  }),
});

builder.queryField('registryStats', (t) =>
  t.field({ type: RegistryStats, extensions: cacheHint({ maxAge: 30 }), resolve: (_root, _args, ctx) => findRegistryStats(ctx.db) }),
);
