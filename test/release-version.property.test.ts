// Property test: every version validation accepts gets a sortKey whose byte order is semver.compare's order.
import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ReleaseVersionSchema, releaseSortKey } from '../src/packages/release-version.js';

const MAX = Number.MAX_SAFE_INTEGER;

function compareKeys(a: string, b: string): number {
  // MongoDB orders strings by bytes; the keys are ASCII, so JavaScript's code-unit order is the same.
  return a < b ? -1 : a > b ? 1 : 0;
}

function accepted(version: string): boolean {
  return ReleaseVersionSchema.safeParse(version).success;
}

/** Decimal numbers without leading zeros: tiny ones (ties), the safe bound's neighbourhood, and far beyond it. */
const numberText = fc.oneof(
  fc.nat(3).map(String),
  fc.constantFrom(BigInt(MAX) - 1n, BigInt(MAX), BigInt(MAX) + 1n, 10n ** 16n - 1n, 10n ** 16n).map(String),
  fc.maxSafeNat().map(String),
  fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String),
);

/** Alphanumeric identifiers (at least one non-digit, so semver reads them as text), with hyphens and prefixes of each other. */
const alphaId = fc.oneof(
  fc.constantFrom('a', 'alpha', 'alpha-x', 'beta', 'rc', '-', '--', 'a-b', 'x-y', '0a', 'Z', 'z9'),
  fc.stringMatching(/^[0-9]{0,3}[A-Za-z-][0-9A-Za-z-]{0,6}$/),
);

const prereleaseId = fc.oneof(numberText, alphaId);

const version = fc
  .record({
    core: fc.tuple(numberText, numberText, numberText),
    prerelease: fc.array(prereleaseId, { maxLength: 5 }),
  })
  .map(({ core, prerelease }) => `${core.join('.')}${prerelease.length > 0 ? `-${prerelease.join('.')}` : ''}`);

describe('releaseSortKey', () => {
  it('orders every pair of accepted versions exactly as semver.compare does', () => {
    fc.assert(
      fc.property(fc.array(version, { minLength: 2, maxLength: 8 }), (candidates) => {
        const versions = candidates.filter(accepted);
        for (const a of versions) {
          for (const b of versions) {
            expect(Math.sign(compareKeys(releaseSortKey(a), releaseSortKey(b))), `${a} vs ${b}`).toBe(semver.compare(a, b));
          }
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('orders pairs that share a core and a prerelease prefix, then differ, as semver.compare does', () => {
    // Random pairs rarely tie on the core; here they always do, so the prerelease encoding decides.
    const sharedPair = fc
      .record({
        core: fc.tuple(numberText, numberText, numberText),
        common: fc.array(prereleaseId, { maxLength: 3 }),
        tailA: fc.array(prereleaseId, { maxLength: 3 }),
        tailB: fc.array(prereleaseId, { maxLength: 3 }),
      })
      .map(({ core, common, tailA, tailB }) =>
        [tailA, tailB].map((tail) => {
          const ids = [...common, ...tail];
          return `${core.join('.')}${ids.length > 0 ? `-${ids.join('.')}` : ''}`;
        }),
      );
    fc.assert(
      fc.property(sharedPair, ([a, b]) => {
        fc.pre(accepted(a!) && accepted(b!));
        expect(Math.sign(compareKeys(releaseSortKey(a!), releaseSortKey(b!))), `${a} vs ${b}`).toBe(semver.compare(a!, b!));
      }),
      { numRuns: 3_000 },
    );
  });

  it('accepts every strict semver version whose numbers are all within Number.MAX_SAFE_INTEGER', () => {
    fc.assert(
      fc.property(version, (v) => {
        const numbers = v.split(/[.-]/).filter((part) => /^\d+$/.test(part));
        const safe = numbers.every((n) => BigInt(n) <= BigInt(MAX));
        if (safe && v.length <= 256) expect(accepted(v), v).toBe(semver.valid(v) === v);
        if (!safe) expect(accepted(v), v).toBe(false);
      }),
      { numRuns: 1_000 },
    );
  });

  it('sorts explicit examples, including long numeric prerelease identifiers, as semver.sort does', () => {
    const versions = [
      '1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11',
      '1.0.0-rc.1', '0.0.1', '10.0.0', '2.0.0', '1.10.0', '1.9.9', '1.0.0-alpha-x', '1.0.0-0', '1.0.0-1.a', '1.0.0-a.1',
      '9007199254740991.0.0', '1.0.0-alpha.0', '1.0.0-x-y', '1.0.0-x.y', '1.0.0-999999999999999', '1.0.0-1000000000000000',
      '1.0.0-9007199254740991', '1.0.0-9007199254740990', '1.0.0-alpha.9007199254740991', '1.0.0-alpha.10',
      '9007199254740991.9007199254740991.9007199254740991', '9007199254740991.9007199254740991.9007199254740991-0',
      '1.0.0-0.0', '1.0.0-0.a', '1.0.0--', '1.0.0-a-', '1.0.0-A', '1.0.0-a', '1.0.0-99a', '1.0.0-100',
    ];
    expect(versions.filter((v) => !accepted(v))).toEqual([]);
    const byKey = [...versions].sort((a, b) => compareKeys(releaseSortKey(a), releaseSortKey(b)));
    expect(byKey).toEqual(semver.sort([...versions]));
    // The defect the issue names (17 digits sorted below 16): both are refused now, and legacy releases that
    // hold them still get keys in true numeric order.
    expect(compareKeys(releaseSortKey('1.0.0-10000000000000000'), releaseSortKey('1.0.0-9999999999999999'))).toBe(1);
  });
});

describe('ReleaseVersionSchema', () => {
  it('refuses 1.0.0-10000000000000000 and says the number is too large for exact ordering', () => {
    const result = ReleaseVersionSchema.safeParse('1.0.0-10000000000000000');
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual([
      'Version numbers must be at most 9007199254740991 (Number.MAX_SAFE_INTEGER); 10000000000000000 is larger, ' +
        'and semver cannot order numbers that large exactly',
    ]);
  });

  it.each([
    ['9007199254740992.0.0', '9007199254740992'],
    ['1.9007199254740992.0', '9007199254740992'],
    ['1.0.0-rc.9007199254740992', '9007199254740992'],
    ['1.0.0-123456789012345678901234567890', '123456789012345678901234567890'],
  ])('refuses %s, naming %s', (v, number) => {
    const result = ReleaseVersionSchema.safeParse(v);
    expect(result.success).toBe(false);
    expect(result.error?.issues).toHaveLength(1);
    expect(result.error?.issues[0]!.message).toContain(`${number} is larger`);
  });

  it.each([
    ['v1.0.0', 'valid semver'],
    ['1.0', 'valid semver'],
    ['1.0.0-01', 'valid semver'],
    ['1.0.0+build.1', 'Build metadata'],
    ['1.0.0-' + 'a'.repeat(300), 'at most 256 characters'],
  ])('refuses %s with a message about %s', (v, message) => {
    const result = ReleaseVersionSchema.safeParse(v);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]!.message).toContain(message);
  });

  it('accepts the largest safe numbers everywhere', () => {
    expect(accepted('9007199254740991.9007199254740991.9007199254740991-9007199254740991.x')).toBe(true);
  });
});
