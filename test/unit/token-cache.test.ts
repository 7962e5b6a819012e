// The token cache (issue 13, item 7): bounded, least recently used out first, expiry honoured on
// every read, and through HostAuth a long-lived client keeps no more than the cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN_CACHE_MAX, TokenCache } from '../../lib/registry/auth/token-cache.js';

test('an expired token is never returned, and is dropped when read', () => {
  let now = 0;
  const c = new TokenCache(() => now, 4);
  c.set('a', 'ta', 1000);
  assert.equal(c.get('a'), 'ta');
  now = 1000;
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 0);
});

test('past the cap the least recently used goes first; a read keeps an entry', () => {
  const now = 0;
  const c = new TokenCache(() => now, 3);
  c.set('a', '1', 10_000);
  c.set('b', '2', 10_000);
  c.set('c', '3', 10_000);
  assert.equal(c.get('a'), '1'); // a is now the most recent
  c.set('d', '4', 10_000);
  assert.equal(c.size, 3);
  assert.equal(c.get('b'), undefined, 'the least recently used entry stayed');
  assert.equal(c.get('a'), '1');
  assert.equal(c.get('d'), '4');
});

test('expired entries make room before live ones are evicted', () => {
  let now = 0;
  const c = new TokenCache(() => now, 2);
  c.set('old', 'x', 50);
  c.set('live', 'y', 10_000);
  now = 100;
  c.set('new', 'z', 10_000);
  assert.equal(c.get('live'), 'y');
  assert.equal(c.get('new'), 'z');
});

test('a warm container asking for thousands of scope sets keeps at most the cap', () => {
  const c = new TokenCache(() => 0);
  for (let i = 0; i < 5000; i++) c.set(`repository:team/app${i}:pull,push repository:base${i}:pull`, `t${i}`, 60_000);
  assert.equal(c.size, TOKEN_CACHE_MAX);
  assert.equal(c.get('repository:team/app4999:pull,push repository:base4999:pull'), 't4999');
});
