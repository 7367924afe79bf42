import { describe, expect, it } from 'vitest';
import { NonceCache } from './deviceAuth.ts';
import { RateLimiter } from './rateLimit.ts';

const SKEW = 1000;

describe('NonceCache', () => {
  it('refuses a nonce while its time could still pass the skew check, then forgets it', () => {
    const cache = new NonceCache(SKEW);
    expect(cache.remember('n1', 0, 0)).toBe(true);
    expect(cache.remember('n1', 0, 1999)).toBe(false);
    // By now a request signed at 0 is refused for its time anyway.
    expect(cache.remember('n2', 1000, 2000)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('stays within its bound without reopening replay of what it evicted', () => {
    const cache = new NonceCache(SKEW, 2);
    expect(cache.remember('a', 100, 0)).toBe(true);
    expect(cache.remember('b', 50, 0)).toBe(true);
    expect(cache.remember('c', 10, 0)).toBe(true);
    expect(cache.size).toBe(2);
    // 'a' was evicted; its replay, and anything signed no later, is refused.
    expect(cache.remember('a', 100, 1)).toBe(false);
    expect(cache.remember('d', 99, 1)).toBe(false);
    expect(cache.remember('e', 101, 1)).toBe(true);
  });
});

describe('RateLimiter', () => {
  it('allows a burst per client, then tells how long to wait', () => {
    const limiter = new RateLimiter(1, 2);
    expect(limiter.take('ip1', 0)).toBe(0);
    expect(limiter.take('ip1', 0)).toBe(0);
    expect(limiter.take('ip1', 0)).toBe(1000);
    expect(limiter.take('ip2', 0)).toBe(0);
    expect(limiter.take('ip1', 1000)).toBe(0);
  });

  it('forgets idle clients and the least recently seen past its bound', () => {
    const limiter = new RateLimiter(1, 2, 2);
    limiter.take('ip1', 0);
    limiter.take('ip2', 0);
    limiter.take('ip1', 1);
    limiter.take('ip3', 1);
    expect(limiter.clients).toBe(2);
    // ip1 was seen more recently than ip2, so it kept its bucket.
    limiter.take('ip1', 1);
    expect(limiter.take('ip1', 1)).toBeGreaterThan(0);
    limiter.take('ip4', 10_000);
    expect(limiter.clients).toBe(1);
  });
});
