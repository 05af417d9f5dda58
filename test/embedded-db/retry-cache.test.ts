// The retryable-write memory stays bounded: oldest entries are evicted first and entries expire.
import { describe, expect, it } from 'vitest';
import { RetryCache } from '../../src/embedded-db/retry-cache.js';

describe('RetryCache', () => {
  it('evicts the oldest entries beyond its capacity', () => {
    const cache = new RetryCache(3, 60_000);
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, { n: i });
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k4')).toEqual({ n: 4 });
  });

  it('forgets entries older than its time to live', () => {
    const cache = new RetryCache(10, 1000);
    cache.set('a', { ok: 1 }, 0);
    expect(cache.get('a', 999)).toEqual({ ok: 1 });
    expect(cache.get('a', 1001)).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
