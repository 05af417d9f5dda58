// Command-line options of `npm run bench`: mode, instance and connection counts, and where results go.
import { parseArgs } from 'node:util';
import { FULL_COUNTS, QUICK_COUNTS } from './scenarios/index.js';
import type { ScenarioCounts } from './scenarios/common.js';

export interface BenchOptions {
  quick: boolean;
  instances: number;
  connections: number;
  counts: ScenarioCounts;
  /** Views and likes per instance through GraphQL and through the JSON endpoint before measuring (optimized code). */
  warmUpRequests: number;
  coldStartRuns: number;
  /** Only the scenarios whose names contain one of these (default: all). */
  only: string[];
  outDir: string;
  skipColdStart: boolean;
  /** The side-by-side peer comparison (bench/peers/): rounds and requests per operation and server in a round. */
  peers: boolean;
  peerRounds: number;
  peerRequests: number;
}

const USAGE = `npm run bench -- [--quick] [--instances K] [--connections N] [--views N] [--only name,...] [--out dir] [--no-cold-start]
  --quick          every scenario with fewer views (under a minute)
  --instances K    API processes (default 4)
  --connections N  concurrent connections spread across the instances (default 64)
  --views N        recordView requests per variant (default 20000, quick 2000)
  --only a,b       run only scenarios whose name contains a or b
  --out dir        where latest.json and latest.svg go (default bench/results)
  --no-cold-start  skip the bundle and cold-start measurement
  --no-peers       skip the comparison with plain JSON, bare Yoga, Apollo and Mercurius (bench/peers/)`;

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer\n${USAGE}`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      instances: { type: 'string' },
      connections: { type: 'string' },
      views: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'no-cold-start': { type: 'boolean', default: false },
      'no-peers': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const base = values.quick ? QUICK_COUNTS : FULL_COUNTS;
  const views = positiveInt(values.views, base.views, 'views');
  return {
    quick: values.quick,
    instances: positiveInt(values.instances, 4, 'instances'),
    connections: positiveInt(values.connections, 64, 'connections'),
    counts: { ...base, views },
    warmUpRequests: values.quick ? 250 : 2_000,
    coldStartRuns: values.quick ? 3 : 7,
    only: values.only ? values.only.split(',').filter(Boolean) : [],
    outDir: values.out ?? 'bench/results',
    skipColdStart: values['no-cold-start'],
    peers: !values['no-peers'],
    // Many short rounds rather than few long ones: the median of per-round ratios then rides out bursts of other work.
    peerRounds: values.quick ? 2 : 8,
    peerRequests: values.quick ? 500 : 600,
  };
}
