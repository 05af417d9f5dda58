// CORS_ORIGINS syntax: comma-separated origins; "*" inside a host stands for one DNS label part (preview deployments).

/** Tells whether a browser Origin header value is one of the configured origins. */
export type OriginMatcher = (origin: string) => boolean;

const ORIGIN_PATTERN = /^(https?):\/\/([a-z0-9*]([a-z0-9*-]*[a-z0-9*])?(\.[a-z0-9*]([a-z0-9*-]*[a-z0-9*])?)*)(:[0-9]{1,5})?$/;

/**
 * "https://app.example.com,https://*-myteam.vercel.app" -> a matcher. A "*" matches letters, digits and
 * hyphens but never a dot, so "https://*-myteam.vercel.app" cannot be satisfied by "https://evil.com/-myteam.vercel.app"
 * or "https://x.evil.com-myteam.vercel.app". A lone "*" allows every origin. Throws on anything else.
 */
export function parseOriginPatterns(value: string): OriginMatcher {
  const entries = value
    .split(',')
    .map((entry) => entry.trim().toLowerCase().replace(/\/$/, ''))
    .filter((entry) => entry.length > 0);
  if (entries.includes('*')) return () => true;
  const patterns = entries.map((entry) => {
    if (!ORIGIN_PATTERN.test(entry)) {
      throw new Error(`"${entry}" is not an origin such as https://app.example.com or https://*-team.vercel.app`);
    }
    const source = entry
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
      .join('[a-z0-9-]+');
    return new RegExp(`^${source}$`);
  });
  return (origin) => {
    const normalized = origin.trim().toLowerCase();
    return patterns.some((pattern) => pattern.test(normalized));
  };
}
