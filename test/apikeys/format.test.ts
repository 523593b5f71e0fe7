// The API key format, offline: prefix, randomness, checksum.
import { generateApiKey, parseApiKey, RANDOM_LENGTH, CHECKSUM_LENGTH } from '../../src/apikeys/index.ts';

test('a key is prefix_random+checksum in base62, and parses back', () => {
  const key = generateApiKey('pcl_live');
  expect(key).toMatch(new RegExp(`^pcl_live_[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`));
  expect(parseApiKey(key, ['pcl_live'])).toEqual({ prefix: 'pcl_live', display: key.slice(0, 'pcl_live_'.length + 6) });
  // 33 base62 characters carry log2(62^33) bits.
  expect(RANDOM_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(192);
});

test('keys do not repeat', () => {
  const keys = new Set(Array.from({ length: 2000 }, () => generateApiKey('pcl_test')));
  expect(keys.size).toBe(2000);
});

test('a mistyped, truncated or made-up key fails the checksum', () => {
  const key = generateApiKey('pcl_live');
  const position = 'pcl_live_'.length + 10;
  const typo = key.slice(0, position) + (key[position] === 'a' ? 'b' : 'a') + key.slice(position + 1);
  expect(parseApiKey(typo, ['pcl_live'])).toBeUndefined();
  expect(parseApiKey(key.slice(0, -1), ['pcl_live'])).toBeUndefined();
  expect(parseApiKey(`pcl_live_${'A'.repeat(39)}`, ['pcl_live'])).toBeUndefined();
  expect(parseApiKey(`${key}x`, ['pcl_live'])).toBeUndefined();
  expect(parseApiKey(42, ['pcl_live'])).toBeUndefined();
});

test('a key with another prefix (a test key on a live server) is refused', () => {
  const testKey = generateApiKey('pcl_test');
  expect(parseApiKey(testKey, ['pcl_live'])).toBeUndefined();
  expect(parseApiKey(testKey, ['pcl_test'])).toBeDefined();
});
