// Pure rules with many cases: semver sort keys, PyPI name normalization and preview database names.
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { previewDatabaseName } from '../src/env.js';
import { normalizePackageName } from '../src/packages/package-name.js';
import { releaseSortKey } from '../src/packages/release-version.js';

describe('releaseSortKey', () => {
  it('orders versions exactly as semver precedence does', () => {
    const versions = [
      '1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11',
      '1.0.0-rc.1', '0.0.1', '10.0.0', '2.0.0', '1.10.0', '1.9.9', '1.0.0-alpha-x', '1.0.0-0', '1.0.0-1.a', '1.0.0-a.1',
      '9007199254740991.0.0', '1.0.0-alpha.0', '1.0.0-x-y', '1.0.0-x.y',
    ];
    const byKey = [...versions].sort((a, b) => (releaseSortKey(a) < releaseSortKey(b) ? -1 : 1));
    expect(byKey).toEqual(semver.sort([...versions]));
  });
});

describe('normalizePackageName', () => {
  it.each([
    ['Flask', 'flask'],
    ['foo_bar', 'foo-bar'],
    ['Foo.-_Bar', 'foo-bar'],
    ['A__B..C', 'a-b-c'],
  ])('%s -> %s', (name, normalized) => {
    expect(normalizePackageName(name)).toBe(normalized);
  });
});

describe('previewDatabaseName', () => {
  it('keeps only characters MongoDB allows and stays within 63 bytes', () => {
    expect(previewDatabaseName('feature/login-page')).toBe('preview_feature_login-page');
    expect(previewDatabaseName('fix $weird "name".x')).toMatch(/^preview_[A-Za-z0-9_-]+$/);
    const long = previewDatabaseName(`feature/${'very-long-branch-name-'.repeat(10)}`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63);
    expect(long).not.toBe(previewDatabaseName(`feature/${'very-long-branch-name-'.repeat(10)}x`));
  });
});
