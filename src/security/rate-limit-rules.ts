// RATE_LIMITS syntax and the built-in limits: "<rule>=<count>/<seconds>" entries over the defaults, or "off".

export interface RateLimitRule {
  /** Calls admitted per window. */
  limit: number;
  windowSeconds: number;
}

/**
 * The built-in limits, per caller (the user, or the client IP when anonymous) per fixed window. A rule named
 * "<mutation>@ip" limits by client IP in addition, signed in or not; "default" covers mutations without a rule.
 */
export const DEFAULT_RATE_LIMITS = {
  default: '60/60',
  createPackage: '10/60',
  publishRelease: '30/60',
  updatePackage: '60/60',
  addKeywords: '60/60',
  createPost: '10/60',
  updatePost: '30/60',
  deletePost: '30/60',
  likePost: '120/60',
  unlikePost: '120/60',
  recordView: '600/60',
  'recordView@ip': '1200/60',
  sponsorPackage: '60/60',
  withdrawSponsorship: '30/60',
  requestPayout: '10/60',
  yankRelease: '30/60',
  unyankRelease: '30/60',
  createReleaseDraft: '30/60',
  updateReleaseDraft: '120/60',
  publishReleaseDraft: '30/60',
  deleteReleaseDraft: '30/60',
  createPublishToken: '10/60',
  revokePublishToken: '30/60',
  recordDownload: '600/60',
  'recordDownload@ip': '1200/60',
} as const satisfies Readonly<Record<string, string>>;

/** A rule a mutation declares (src/mutation-kit.ts); its "@ip" variant applies too when configured. */
export type RateLimitRuleName = Exclude<keyof typeof DEFAULT_RATE_LIMITS, `${string}@ip`>;

const RULE_NAMES = Object.keys(DEFAULT_RATE_LIMITS).filter((name) => !name.endsWith('@ip'));

/** The rules in force: null for a name means "explicitly off"; a missing name falls back as described above. */
export interface RateLimits {
  enabled: boolean;
  rules: ReadonlyMap<string, RateLimitRule | null>;
}

const MAX_WINDOW_SECONDS = 86_400;
const KNOWN_NAMES = new Set<string>(RULE_NAMES.flatMap((name) => [name, `${name}@ip`]));

/** Parses RATE_LIMITS over the defaults; unset means the defaults, "off" disables every limit (benchmarks). Throws on bad syntax. */
export function parseRateLimits(value: string | undefined): RateLimits {
  const rules = new Map<string, RateLimitRule | null>();
  for (const [name, spec] of Object.entries(DEFAULT_RATE_LIMITS)) rules.set(name, parseRule(name, spec));
  const trimmed = value?.trim() ?? '';
  if (trimmed === 'off') return { enabled: false, rules: new Map() };
  for (const entry of trimmed.split(',')) {
    if (entry.trim() === '') continue;
    const match = /^\s*([A-Za-z]+(?:@ip)?)\s*=\s*(\S+)\s*$/.exec(entry);
    if (!match) throw new Error(`RATE_LIMITS entry "${entry.trim()}" is not <mutation>=<count>/<seconds> or <mutation>=off`);
    const [, name, spec] = match as unknown as [string, string, string];
    if (!KNOWN_NAMES.has(name)) throw new Error(`RATE_LIMITS names unknown rule "${name}"; known: ${[...KNOWN_NAMES].join(', ')}`);
    rules.set(name, parseRule(name, spec));
  }
  return { enabled: true, rules };
}

function parseRule(name: string, spec: string): RateLimitRule | null {
  if (spec === 'off') return null;
  const match = /^([0-9]{1,9})\/([0-9]{1,6})$/.exec(spec);
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]);
  if (!match || limit < 1 || windowSeconds < 1 || windowSeconds > MAX_WINDOW_SECONDS) {
    throw new Error(`RATE_LIMITS rule "${name}=${spec}" must be <count>/<seconds> with count >= 1 and 1 <= seconds <= ${MAX_WINDOW_SECONDS}, or off`);
  }
  return { limit, windowSeconds };
}

/** The per-caller rule and the per-IP rule of one mutation (either may be absent). */
export function rulesFor(limits: RateLimits, mutation: RateLimitRuleName): { caller: RateLimitRule | null; ip: RateLimitRule | null } {
  if (!limits.enabled) return { caller: null, ip: null };
  const pick = (name: string, fallback: string) => (limits.rules.has(name) ? limits.rules.get(name)! : (limits.rules.get(fallback) ?? null));
  return { caller: pick(mutation, 'default'), ip: pick(`${mutation}@ip`, 'default@ip') };
}
