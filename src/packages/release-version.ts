// Release versions are strict semver; sortKey turns semver precedence into a string MongoDB can sort on.
import semver from 'semver';
import * as z from 'zod/mini';

const PART_WIDTH = 16;

/** Strict semver (no "v" prefix, no build metadata: versions that differ only in build metadata have equal precedence). */
export const ReleaseVersionSchema = z.string().check(
  z.maxLength(256, 'Version is at most 256 characters'),
  z.refine((v) => semver.valid(v) === v, 'Version must be valid semver such as 1.2.3 or 2.0.0-beta.1'),
  z.refine((v) => !v.includes('+'), 'Build metadata (+...) is not allowed in a release version'),
  z.refine((v) => {
    const parsed = semver.parse(v);
    return parsed !== null && [parsed.major, parsed.minor, parsed.patch].every((n) => String(n).length <= PART_WIDTH);
  }, `Each numeric part is at most ${PART_WIDTH} digits`),
);

function pad(n: number | string): string {
  return String(n).padStart(PART_WIDTH, '0');
}

/**
 * A string whose byte order is semver precedence: fixed-width numbers, "~" after a release (sorts above
 * any "-" prerelease), numeric prerelease identifiers ("0"+digits) below alphanumeric ones ("1"+text),
 * joined by "!" which sorts below every character an identifier may contain.
 */
export function releaseSortKey(version: string): string {
  const parsed = semver.parse(version);
  if (!parsed) throw new Error(`not a semver version: ${version}`);
  const core = `${pad(parsed.major)}.${pad(parsed.minor)}.${pad(parsed.patch)}`;
  if (parsed.prerelease.length === 0) return `${core}~`;
  const ids = parsed.prerelease.map((id) => (typeof id === 'number' || /^\d+$/.test(id) ? `0${pad(id)}` : `1${id}`));
  return `${core}-${ids.join('!')}`;
}
