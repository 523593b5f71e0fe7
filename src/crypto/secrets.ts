// Random secrets, keyed hashes and constant-time comparison: how Portcullis keeps generated
// secrets (client secrets, API keys, token ids) without being able to give them back.
import crypto from 'node:crypto';

/** `bytes` of randomness from the system CSPRNG, base64url without padding. */
export function randomSecret(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/**
 * HMAC-SHA256 of `value` keyed with the server pepper, base64url. A random secret of 192 bits
 * or more needs no slow hash; the key means a stolen database alone cannot confirm a guess.
 */
export function keyedHash(pepper: string, value: string): string {
  return crypto.createHmac('sha256', pepper).update(value, 'utf8').digest('base64url');
}

/** Compares two strings in time that does not depend on where they differ (nor on their lengths). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = crypto.createHash('sha256').update(a, 'utf8').digest();
  const right = crypto.createHash('sha256').update(b, 'utf8').digest();
  return crypto.timingSafeEqual(left, right) && a.length === b.length;
}
