// What every scenario shares: the bench environment, the per-variant result with its invariant checks, and the
// GraphQL, baseline and driver loads a scenario is driven with.
import type { Db } from 'mongodb';
import { signToken } from '../../src/auth/token.js';
import { runLoad, type Classified, type LoadResult } from '../load.js';
import { runDriverLoop } from '../driver-loop.js';
import { type CpuGroups, type CpuSpent, startCpuMeter } from '../cpu-usage.js';
import { baselinePath, type BaselineOp, type BaselineReply, type BaselineVariant } from '../baselines/server.js';

/**
 * graphql: the API (atomic ops behind GraphQL); json: the same atomic ops behind plain JSON HTTP; driver: the same
 * atomic ops called straight through the driver; rmw: read-modify-write; occ: optimistic locking with retry.
 */
export type Variant = 'graphql' | 'json' | 'driver' | 'rmw' | 'occ';
export const VARIANTS: readonly Variant[] = ['graphql', 'json', 'driver', 'rmw', 'occ'];
/** The variants that run the API's atomic ops: their invariants must hold, or the bench fails. */
export const ATOMIC_VARIANTS: readonly Variant[] = ['graphql', 'json', 'driver'];

export interface ScenarioCounts {
  /** likePost by this many distinct users on one post. */
  likers: number;
  /** likePost by one user this many times at once. */
  sameUserLikes: number;
  /** Users each sending like, unlike, like, like-or-unlike at once. */
  flappingUsers: number;
  /** recordView on one post. */
  views: number;
  /** Likes and views sent to the optimistic-locking baseline, whose throughput collapses under contention. */
  optimisticRequests: number;
  /** Distinct versions published in random order. */
  releases: number;
  /** Concurrent publishes of one version. */
  samePublishes: number;
  /** Concurrent createPackage of one name. */
  creators: number;
  /** Concurrent updatePackage with the same expectedVersion. */
  editors: number;
  /** recordDownload on one release (download-burst). */
  downloads: number;
}

export interface BenchEnv {
  /** The API's GraphQL URL on each instance. */
  apiUrls: string[];
  /** The baseline JSON server's origin on each instance. */
  baselineUrls: string[];
  /** A direct handle on the API's database: setup, the driver variant and the invariant reads. */
  db: Db;
  connections: number;
  jwtSecret: string;
  counts: ScenarioCounts;
  /** Process ids whose CPU time is reported per request (the bench's own processes); absent in the in-process test. */
  cpu?: CpuGroups;
  /** Which variants to run where a scenario has several (default: all). */
  variants?: readonly Variant[];
  log?: (line: string) => void;
}

export interface VariantResult {
  scenario: string;
  variant: Variant;
  /** Runs the API's atomic ops: its invariants must hold. */
  atomic: boolean;
  requests: number;
  connections: number;
  durationMs: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Transport errors plus responses that are neither a success nor the failure the scenario expects. */
  errors: number;
  retries: number;
  /** What the database should show (acknowledged changes), what it shows, and the difference. */
  expected: number;
  observed: number;
  lost: number;
  duplicates: number;
  outcomes: Record<string, number>;
  /** CPU milliseconds per request: all API instances together, the database process, the load generator (and driver). */
  cpuMsPerRequest?: { instances?: number; db?: number; load: number };
  /** Invariants that did not hold, in words; empty when all held. */
  violations: string[];
}

export interface Scenario {
  name: string;
  description: string;
  run(env: BenchEnv): Promise<VariantResult[]>;
}

export function wantsVariant(env: BenchEnv, variant: Variant): boolean {
  return (env.variants ?? VARIANTS).includes(variant);
}

/** Collects invariant violations: each check names what it compared. */
export class Checks {
  readonly violations: string[] = [];
  equal(what: string, actual: unknown, expected: unknown): this {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      this.violations.push(`${what}: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
    }
    return this;
  }
}

/** Builds a result row; errors are the transport errors and every outcome not listed as acceptable. */
export function variantResult(
  scenario: string,
  variant: Variant,
  connections: number,
  load: LoadResult & { cpu?: CpuSpent },
  acceptable: readonly string[],
  state: { expected: number; observed: number; duplicates: number },
  checks: Checks,
): VariantResult {
  const unexpected = Object.entries(load.outcomes)
    .filter(([outcome]) => !acceptable.includes(outcome))
    .reduce((sum, [, n]) => sum + n, 0);
  const errors = load.transportErrors + unexpected;
  const atomic = ATOMIC_VARIANTS.includes(variant);
  const lost = state.expected - state.observed;
  // The targets every variant is judged by: nothing lost, nothing doubled, nothing failed unexpectedly.
  checks.equal('updates lost', lost, 0).equal('duplicates', state.duplicates, 0).equal('errors', errors, 0);
  return {
    scenario,
    variant,
    atomic,
    requests: load.requests,
    connections,
    durationMs: round(load.durationMs),
    rps: round(load.rps),
    p50Ms: round(load.p50Ms, 2),
    p99Ms: round(load.p99Ms, 2),
    errors,
    retries: load.retries,
    expected: state.expected,
    observed: state.observed,
    lost,
    duplicates: state.duplicates,
    outcomes: load.outcomes,
    ...(load.cpu ? { cpuMsPerRequest: perRequest(load.cpu, load.requests) } : {}),
    violations: checks.violations,
  };
}

function perRequest(cpu: CpuSpent, requests: number): VariantResult['cpuMsPerRequest'] {
  const per = (ms: number | undefined) => (ms === undefined || requests === 0 ? undefined : round(ms / requests, 3));
  return { instances: per(cpu.instancesMs), db: per(cpu.dbMs), load: per(cpu.loadMs)! };
}

/** Runs a load and, when the bench knows its processes, the CPU time they spent on it. */
async function metered(env: BenchEnv, load: () => Promise<LoadResult>): Promise<LoadResult & { cpu?: CpuSpent }> {
  if (!env.cpu) return load();
  const stop = startCpuMeter(env.cpu);
  const result = await load();
  return { ...result, cpu: stop() };
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Tokens for many users, signed before the load starts so signing is not measured. */
export async function signTokens(env: BenchEnv, userIds: string[]): Promise<string[]> {
  return Promise.all(userIds.map((id) => signToken(id, { secret: env.jwtSecret })));
}

/** One GraphQL request outside the measured load (setup and read-backs). */
export async function gql(env: BenchEnv, query: string, variables: Record<string, unknown>, token?: string): Promise<any> {
  const response = await fetch(env.apiUrls[0]!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorization(token) },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await response.json()) as { data?: any; errors?: { message: string }[] };
  if (json.errors?.length) throw new Error(`GraphQL setup request failed: ${json.errors[0]!.message}`);
  return json.data;
}

/** Maps a one-mutation response to "ok", an error code (with "@v<n>" for a ConflictError's currentVersion) or "error:...". */
export function classifyGraphql(status: number, body: string): Classified {
  if (status !== 200) return { outcome: `error:HTTP ${status}` };
  let json: { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    json = JSON.parse(body);
  } catch {
    return { outcome: 'error:invalid JSON' };
  }
  if (json.errors?.length) return { outcome: `error:${json.errors[0]!.extensions?.code ?? json.errors[0]!.message}` };
  const result = Object.values(json.data ?? {})[0];
  if (!result) return { outcome: 'error:no data' };
  if (String(result.__typename).endsWith('Success')) return { outcome: 'ok' };
  return { outcome: result.currentVersion == null ? String(result.code) : `${result.code}@v${result.currentVersion}` };
}

function classifyBaseline(status: number, body: string): Classified {
  if (status !== 200) return { outcome: `error:HTTP ${status}` };
  try {
    const reply = JSON.parse(body) as BaselineReply;
    return { outcome: reply.ok ? 'ok' : `error:${reply.code}`, retries: reply.retries ?? 0 };
  } catch {
    return { outcome: 'error:invalid JSON' };
  }
}

function authorization(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Sends `amount` GraphQL mutations across every instance; request i is document(i) with variables(i) and token(i). */
export function graphqlLoad(
  env: BenchEnv,
  plan: { document(i: number): string; amount: number; variables(i: number): Record<string, unknown>; token?(i: number): string },
): Promise<LoadResult> {
  return metered(env, () => runLoad({
    urls: env.apiUrls,
    connections: env.connections,
    amount: plan.amount,
    request(i) {
      return {
        body: JSON.stringify({ query: plan.document(i), variables: plan.variables(i) }),
        headers: authorization(plan.token?.(i)),
      };
    },
    classify: classifyGraphql,
  }));
}

/** Sends `amount` requests to one baseline variant's endpoint across every instance. */
export function baselineLoad(
  env: BenchEnv,
  plan: { variant: BaselineVariant; op: BaselineOp; amount: number; postId: string; token?(i: number): string },
): Promise<LoadResult> {
  const path = baselinePath(plan.variant, plan.op);
  return metered(env, () => runLoad({
    urls: env.baselineUrls.map((origin) => origin + path),
    connections: env.connections,
    amount: plan.amount,
    request(i) {
      return { body: JSON.stringify({ postId: plan.postId }), headers: authorization(plan.token?.(i)) };
    },
    classify: classifyBaseline,
  }));
}

/** Calls the op `amount` times straight through the driver, `connections` at a time. */
export function driverLoad(env: BenchEnv, amount: number, op: (i: number) => Promise<Classified>): Promise<LoadResult> {
  return metered(env, () => runDriverLoop({ amount, concurrency: env.connections, op }));
}
