// Release versions are strict semver; sortKey turns semver precedence into a string MongoDB can sort on.
import semver from 'semver';
import * as z from 'zod/mini';

const MAX_VERSION_LENGTH = 256;
/** Digits of a number's length in the key: a version is at most 256 characters, so no number has 1,000 digits. */
const LENGTH_WIDTH = 3;
const NUMERIC = /^\d+$/;

/**
 * The numeric parts (major, minor, patch) and numeric prerelease identifiers of a version-shaped string that
 * exceed Number.MAX_SAFE_INTEGER. semver.compare orders numbers as JavaScript numbers, so above that bound
 * distinct numbers compare equal (or the version is refused outright) and no sort key can agree with it.
 */
function unsafeNumbers(version: string): string[] {
  const [withoutBuild = ''] = version.split('+');
  const dash = withoutBuild.indexOf('-');
  const core = dash === -1 ? withoutBuild : withoutBuild.slice(0, dash);
  const prerelease = dash === -1 ? [] : withoutBuild.slice(dash + 1).split('.');
  // Number() rounds monotonically, so it exceeds the bound exactly when the decimal digits do.
  return [...core.split('.'), ...prerelease].filter((part) => NUMERIC.test(part) && Number(part) > Number.MAX_SAFE_INTEGER);
}

/**
 * Strict semver (no "v" prefix, no build metadata: versions that differ only in build metadata have equal
 * precedence), with every number at most Number.MAX_SAFE_INTEGER so that releaseSortKey agrees with semver.compare.
 */
export const ReleaseVersionSchema = z.string().check(
  z.maxLength(MAX_VERSION_LENGTH, `Version is at most ${MAX_VERSION_LENGTH} characters`),
  z.superRefine((v, ctx) => {
    // One message per version, naming the real cause: semver.valid also refuses a too-large core number, but
    // "must be valid semver" would not say why.
    const tooLarge = unsafeNumbers(v);
    if (tooLarge.length > 0) {
      ctx.addIssue({
        code: 'custom',
        input: v,
        message:
          `Version numbers must be at most ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER); ${tooLarge.join(', ')} ` +
          'is larger, and semver cannot order numbers that large exactly',
      });
    } else if (v.includes('+')) {
      ctx.addIssue({ code: 'custom', input: v, message: 'Build metadata (+...) is not allowed in a release version' });
    } else if (semver.valid(v) !== v) {
      ctx.addIssue({ code: 'custom', input: v, message: 'Version must be valid semver such as 1.2.3 or 2.0.0-beta.1' });
    }
  }),
);

/** A number (no leading zeros, as semver requires) as its zero-padded digit count then its digits: byte order is numeric order. */
function encodeNumber(digits: string): string {
  return `${String(digits.length).padStart(LENGTH_WIDTH, '0')}${digits}`;
}

/**
 * A string whose byte order is semver precedence for every version ReleaseVersionSchema accepts: length-prefixed
 * numbers (unbounded, so no width can overflow), "~" after a release core (sorts above the "-" that starts a
 * prerelease), numeric prerelease identifiers ("0" + number) below alphanumeric ones ("1" + text), joined by "!",
 * which sorts below every identifier character ([0-9A-Za-z-]) so a shorter identifier list sorts first.
 * Legacy versions with numbers above Number.MAX_SAFE_INTEGER still get a key, in true numeric order.
 */
export function releaseSortKey(version: string): string {
  const parsed = semver.parse(version);
  if (!parsed) throw new Error(`not a semver version: ${version}`);
  const core = [parsed.major, parsed.minor, parsed.patch].map((n) => encodeNumber(String(n))).join('.');
  if (parsed.prerelease.length === 0) return `${core}~`;
  const ids = parsed.prerelease.map((id) => {
    const text = String(id);
    return NUMERIC.test(text) ? `0${encodeNumber(text)}` : `1${text}`;
  });
  return `${core}-${ids.join('!')}`;
}

/** Whether a stored release version is a prerelease (1.0.0-rc.1): never "latest" while a stable release is available. */
export function isPrerelease(version: string): boolean {
  return semver.prerelease(version) !== null;
}

/**
 * The release a plain install gets (PyPI's rule): the highest that is neither yanked nor a prerelease, else the highest
 * prerelease not yanked when no stable release is available; null when every release is yanked. `releases` are
 * highest first, as stored.
 */
export function latestOf<R extends { version: string; yank?: unknown }>(releases: readonly R[]): R | null {
  const available = releases.filter((r) => r.yank == null);
  return available.find((r) => !isPrerelease(r.version)) ?? available[0] ?? null;
}
