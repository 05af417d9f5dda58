// Every bench scenario in run order, and the request counts of a full and a quick run.
import type { Scenario, ScenarioCounts } from './common.js';
import { sponsorTransfer } from './credits.js';
import { downloadBurst } from './downloads.js';
import { createSameName, publishDistinctVersions, publishSameVersion, updateSameVersion } from './packages.js';
import { likeDistinctUsers, likeSameUser, likeUnlikeInterleaved, recordViews } from './posts.js';
import { topLikedPosts } from './rankings.js';

export const SCENARIOS: readonly Scenario[] = [
  likeDistinctUsers,
  likeSameUser,
  likeUnlikeInterleaved,
  recordViews,
  publishDistinctVersions,
  publishSameVersion,
  createSameName,
  updateSameVersion,
  downloadBurst,
  sponsorTransfer,
  topLikedPosts,
];

export const FULL_COUNTS: ScenarioCounts = {
  likers: 1000,
  sameUserLikes: 100,
  flappingUsers: 250,
  views: 20_000,
  optimisticRequests: 1_000,
  releases: 200,
  samePublishes: 50,
  creators: 50,
  editors: 50,
  downloads: 20_000,
};

/** `--quick`: every scenario with fewer likes and views (what dominates the run time), to finish within a minute. */
export const QUICK_COUNTS: ScenarioCounts = {
  ...FULL_COUNTS,
  likers: 500,
  flappingUsers: 125,
  views: 2_000,
  optimisticRequests: 300,
  downloads: 2_000,
};
