// Reads a V8 CPU profile (.cpuprofile) of the project under load: self time per package and the hottest frames, per
// request, so a regression names the package (and function) it came from.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  requests: number;
  /** Sampled time in the window, idle excluded, per request. */
  busyUsPerRequest: number;
  byPackage: { package: string; usPerRequest: number; share: number }[];
  topFrames: { frame: string; package: string; usPerRequest: number; share: number }[];
}

/** "project" for src/, the npm package for node_modules, "node" for Node's own JavaScript, and V8's pseudo-frames as named. */
export function packageOf(url: string, functionName: string): string {
  // The peer process bundles src/ (and the bench's peer code) into one file there; packages stay in node_modules.
  if (url.includes('/registry-bench-peers/')) return 'project (src, bundled)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  // Node's own JavaScript by area (node:internal/streams/... -> node:streams), and native functions without a script.
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url)?.[1];
  if (internal) return `node:${internal.replace(/\.js$/, '')}`;
  if (url === '' && !functionName.startsWith('(')) return `native (${functionName})`;
  if (functionName === '(garbage collector)') return 'V8 garbage collector';
  if (functionName === '(program)') return 'V8/native (program)';
  return functionName || url || 'unknown';
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function summarizeProfile(profile: CpuProfile, requests: number, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample; it is charged to sample i.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const packages = new Map<string, number>();
  const frames = new Map<string, { package: string; us: number }>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const file = url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${file}${url ? `:${lineNumber + 1}` : ''}`.trim();
    const entry = frames.get(key) ?? { package: pkg, us: 0 };
    entry.us += us;
    frames.set(key, entry);
  }
  const per = (us: number) => round(us / requests);
  const share = (us: number) => round((us / busy) * 100);
  return {
    requests,
    busyUsPerRequest: per(busy),
    byPackage: [...packages].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ package: name, usPerRequest: per(us), share: share(us) })),
    topFrames: [...frames]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([frame, { package: pkg, us }]) => ({ frame, package: pkg, usPerRequest: per(us), share: share(us) })),
  };
}
