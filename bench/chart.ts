// Draws the variant comparison (requests/s, p99, updates lost, retries for likes and views) as an SVG with
// Vega-Lite, rendered in Node without a browser or canvas.
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { PEER_OPS, type PeerReport } from './peers/peers.js';
import type { VariantResult } from './scenarios/common.js';

const COMPARED_SCENARIOS = ['like-distinct-users', 'record-view'];
const VARIANT_ORDER = ['graphql', 'json', 'driver', 'rmw', 'occ'];
const VARIANT_LABELS: Record<string, string> = {
  graphql: 'API (GraphQL, atomic)',
  json: 'JSON endpoint (atomic)',
  driver: 'raw driver (atomic)',
  rmw: 'read-modify-write',
  occ: 'optimistic + retry',
};

const METRICS: { key: 'rps' | 'p99Ms' | 'lost' | 'retries'; title: string }[] = [
  { key: 'rps', title: 'requests/s (higher is better)' },
  { key: 'p99Ms', title: 'p99 latency, ms (lower is better)' },
  { key: 'lost', title: 'updates lost (must be 0)' },
  { key: 'retries', title: 'retries' },
];

/** The peer comparison: server CPU per request and its ratio to plain JSON, per operation, the project beside the peers. */
function peerPanels(peers: PeerReport) {
  const labels = [...new Set(peers.rows.map((r) => r.label))];
  const panel = (key: 'cpuUsPerRequest' | 'cpuToJsonMedian', title: string, format: string) => ({
    title,
    width: 330,
    height: 220,
    layer: [
      { mark: { type: 'bar' as const } },
      { mark: { type: 'text' as const, dy: -5, fontSize: 9 }, encoding: { text: { field: key, type: 'quantitative' as const, format } } },
    ],
    encoding: {
      x: { field: 'op', type: 'nominal' as const, title: null, axis: { labelAngle: 0 }, sort: [...PEER_OPS] },
      xOffset: { field: 'label', type: 'nominal' as const, sort: labels },
      y: { field: key, type: 'quantitative' as const, title: null },
      color: { field: 'label', type: 'nominal' as const, sort: labels, title: 'server', legend: { orient: 'bottom' as const, columns: 3, labelLimit: 0 } },
    },
  });
  return {
    title: `Server CPU per request beside the peers (${peers.meta.rounds} interleaved rounds, ${peers.meta.connections} connections, one process each)`,
    data: { values: peers.rows },
    hconcat: [panel('cpuUsPerRequest', 'server CPU µs per request (lower is better)', ',.0f'), panel('cpuToJsonMedian', '× the plain JSON endpoint, median of rounds (lower is better)', '.2f')],
    resolve: { scale: { color: 'independent' as const } },
  };
}

/** The comparison chart as an SVG document. */
export async function renderChart(results: VariantResult[], subtitle: string, peers?: PeerReport): Promise<string> {
  const rows = results
    .filter((r) => COMPARED_SCENARIOS.includes(r.scenario))
    .map((r) => ({ ...r, label: VARIANT_LABELS[r.variant] ?? r.variant }));
  const legendOrder = VARIANT_ORDER.map((v) => VARIANT_LABELS[v]);
  const panel = (metric: (typeof METRICS)[number]) => ({
    title: metric.title,
    width: 230,
    height: 220,
    layer: [
      { mark: { type: 'bar' as const } },
      { mark: { type: 'text' as const, dy: -5, fontSize: 9 }, encoding: { text: { field: metric.key, type: 'quantitative' as const, format: ',.0f' } } },
    ],
    encoding: {
      x: { field: 'scenario', type: 'nominal' as const, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'label', type: 'nominal' as const, sort: legendOrder },
      y: { field: metric.key, type: 'quantitative' as const, title: null },
      color: { field: 'label', type: 'nominal' as const, sort: legendOrder, title: 'variant', legend: { orient: 'bottom' as const, columns: 5, labelLimit: 0 } },
    },
  });
  const variants = { title: 'Atomic vs baselines: likePost (1 post, distinct users) and recordView (1 post) under the same load', data: { values: rows }, hconcat: METRICS.map(panel) };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'npm run bench', subtitle },
    vconcat: peers ? [peerPanels(peers), variants] : [variants],
    resolve: { scale: { color: 'independent' } },
    config: { font: 'sans-serif', background: 'white' },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
