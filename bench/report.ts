// The bench's results: the targets of issue #4 judged against the measurements, the printed table, and
// bench/results/latest.json + latest.svg.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import { ARTIFACT_TARGET_BYTES, COLD_START_RATIO_TARGET, type BundleReport, type ColdStartReport } from './cold-start.js';
import type { VariantResult } from './scenarios/common.js';
import type { ScenarioCounts } from './scenarios/common.js';
import { CPU_RATIO_TARGET, type PeerReport } from './peers/peers.js';

export interface BenchMeta {
  date: string;
  mode: 'quick' | 'full';
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average when the run started: other work on the machine skews the figures. */
  loadAverageAtStart: number;
  instances: number;
  connections: number;
  database: 'embedded' | 'MONGODB_URI';
  counts: ScenarioCounts;
  durationS: number;
}

export interface Target {
  name: string;
  measured: string;
  /** null: informational, no pass/fail. */
  met: boolean | null;
}

export interface BenchReport {
  meta: BenchMeta;
  /** True when every invariant held for every atomic variant (the bench's exit code). */
  atomicInvariantsHeld: boolean;
  targets: Target[];
  results: VariantResult[];
  bundle?: BundleReport;
  coldStart?: ColdStartReport;
  coldStartError?: string;
  /** The project next to plain JSON, bare Yoga, Apollo and Mercurius (bench/peers/), with its CPU profile. */
  peers?: PeerReport;
  peersError?: string;
  /** Each cost change's before and after (bench/results/cost-steps.json). */
  costSteps?: unknown[];
}


const find = (results: VariantResult[], scenario: string, variant: string) => results.find((r) => r.scenario === scenario && r.variant === variant);
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
const fmt = (n: number | undefined, digits = 2) => (n === undefined ? 'n/a' : n.toFixed(digits));

/** Judges the measurements against the issue's targets; figures that were not measured give met: null. */
export function judgeTargets(results: VariantResult[], bundle?: BundleReport, coldStart?: ColdStartReport, coldStartError?: string, peers?: PeerReport): Target[] {
  const atomic = results.filter((r) => r.atomic);
  const broken = atomic.filter((r) => r.lost !== 0 || r.duplicates !== 0);
  const rmw = results.filter((r) => r.variant === 'rmw');
  const views = (variant: string) => find(results, 'record-view', variant);
  const toJson = ratio(views('graphql')?.rps, views('json')?.rps);
  const toDriver = ratio(views('graphql')?.rps, views('driver')?.rps);
  const occ = results.filter((r) => r.variant === 'occ');
  const targets: Target[] = [
    {
      name: 'atomic variants: 0 updates lost and 0 duplicates in every scenario',
      measured: broken.length === 0 ? `${atomic.length} of ${atomic.length} rows clean` : broken.map((r) => `${r.scenario}/${r.variant}: lost ${r.lost}, duplicates ${r.duplicates}`).join('; '),
      met: broken.length === 0,
    },
    {
      // Lost updates for counters; for money (sponsor-transfer), successes the balances could not pay (duplicates).
      name: 'read-modify-write baseline loses updates or overdraws',
      measured: rmw.map((r) => `${r.scenario}: ${r.lost} of ${r.expected} lost${r.duplicates > 0 ? `, ${r.duplicates} overdrawn` : ''}`).join('; ') || 'not run',
      met: rmw.length ? rmw.every((r) => r.lost > 0 || r.duplicates > 0) : null,
    },
    {
      name: 'GraphQL recordView throughput >= 0.8 x plain JSON endpoint',
      measured: `${fmt(toJson)} (${fmt(views('graphql')?.rps, 0)} vs ${fmt(views('json')?.rps, 0)} req/s)`,
      met: toJson === undefined ? null : toJson >= 0.8,
    },
    {
      name: 'GraphQL recordView throughput >= 0.35 x raw driver loop',
      measured: `${fmt(toDriver)} (${fmt(views('graphql')?.rps, 0)} vs ${fmt(views('driver')?.rps, 0)} ops/s)`,
      met: toDriver === undefined ? null : toDriver >= 0.35,
    },
    ...occ.map((r) => {
      const atomicRow = find(results, r.scenario, 'json');
      return {
        name: `optimistic locking vs atomic (${r.scenario}, ${r.connections} connections)`,
        measured: `${r.retries} retries for ${r.requests} requests, ${r.errors} gave up after 10 retries; p99 ${r.p99Ms} ms vs ${atomicRow?.p99Ms ?? 'n/a'} ms atomic (same JSON endpoint)`,
        met: null,
      };
    }),
  ];
  for (const t of peers?.target ?? []) {
    const row = (server: string) => peers!.rows.find((r) => r.server === server && r.op === t.op);
    targets.push({
      name: `${t.op}: server CPU per request <= ${CPU_RATIO_TARGET}x the plain JSON endpoint's (same database work, same run)`,
      measured: `${t.ratio}x (median of per-round ratios; totals ${row('project')?.cpuUsPerRequest} vs ${row('json')?.cpuUsPerRequest} µs); bare Yoga ${row('yoga')?.cpuToJsonMedian}x, Apollo ${row('apollo')?.cpuToJsonMedian}x, Mercurius ${row('mercurius')?.cpuToJsonMedian}x`,
      met: t.met,
    });
  }
  if (coldStartError) targets.push({ name: 'cold start and artifact size', measured: `not measured: ${coldStartError}`, met: false });
  if (coldStart) {
    targets.push({
      name: `cold start <= ${COLD_START_RATIO_TARGET}x a bare graphql-yoga "hello" function (same build, same launcher, same run; process start to first answer, median)`,
      measured: `${coldStart.ratio}x: ${coldStart.medianMs} vs ${coldStart.baseline.medianMs} ms, median of ${coldStart.runs} on Node ${coldStart.node} (loaded and listening after ${coldStart.medianLoadMs} vs ${coldStart.baseline.medianLoadMs} ms)`,
      met: coldStart.ratio <= COLD_START_RATIO_TARGET,
    });
  }
  if (bundle) {
    targets.push({
      name: `GraphQL function artifact <= ${ARTIFACT_TARGET_BYTES / 1e6} MB (${bundle.command})`,
      measured: `${(bundle.bytes / 1e6).toFixed(3)} MB; largest: ${bundle.largest
        .slice(0, 5)
        .map((p) => `${p.name} ${(p.bytes / 1e3).toFixed(0)} kB`)
        .join(', ')}`,
      met: bundle.bytes <= ARTIFACT_TARGET_BYTES,
    });
  }
  return targets;
}

const COLUMNS: { title: string; value(r: VariantResult): string }[] = [
  { title: 'scenario', value: (r) => r.scenario },
  { title: 'variant', value: (r) => r.variant },
  { title: 'requests', value: (r) => String(r.requests) },
  { title: 'req/s', value: (r) => r.rps.toFixed(0) },
  { title: 'p50 ms', value: (r) => r.p50Ms.toFixed(1) },
  { title: 'p99 ms', value: (r) => r.p99Ms.toFixed(1) },
  { title: 'errors', value: (r) => String(r.errors) },
  { title: 'retries', value: (r) => String(r.retries) },
  { title: 'expected', value: (r) => String(r.expected) },
  { title: 'observed', value: (r) => String(r.observed) },
  { title: 'lost', value: (r) => String(r.lost) },
  { title: 'dup', value: (r) => String(r.duplicates) },
  { title: 'API cpu ms/req', value: (r) => fmt(r.cpuMsPerRequest?.instances) },
  { title: 'invariants', value: (r) => (r.violations.length === 0 ? 'hold' : r.atomic ? 'BROKEN' : 'broken (baseline)') },
];

/** A plain-text table of every row, aligned for a terminal. */
export function formatTable(results: VariantResult[]): string {
  const cells = [COLUMNS.map((c) => c.title), ...results.map((r) => COLUMNS.map((c) => c.value(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The same rows as a Markdown table, for docs/concurrency.md. */
export function formatMarkdownTable(results: VariantResult[]): string {
  const header = `| ${COLUMNS.map((c) => c.title).join(' | ')} |`;
  const rule = `| ${COLUMNS.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`;
  return [header, rule, ...results.map((r) => `| ${COLUMNS.map((c) => c.value(r)).join(' | ')} |`)].join('\n');
}

export function formatTargets(targets: Target[]): string {
  const mark = (met: boolean | null) => (met === null ? 'info' : met ? 'MET ' : 'MISS');
  return targets.map((t) => `[${mark(t.met)}] ${t.name}: ${t.measured}`).join('\n');
}

/** Writes latest.json and latest.svg into `dir`; returns their paths. */
export async function writeReport(dir: string, report: BenchReport): Promise<{ json: string; svg: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const svg = join(dir, 'latest.svg');
  const m = report.meta;
  const subtitle = `${m.mode} run ${m.date.slice(0, 10)}: ${m.instances} API processes, ${m.connections} connections, ${m.database} database, ${m.cpus} cores, Node ${m.node}`;
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(svg, await renderChart(report.results, subtitle, report.peers));
  return { json, svg };
}
