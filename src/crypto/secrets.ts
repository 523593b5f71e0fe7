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
  return crypto.createHmac('sha256', hmacKey(pepper)).update(value, 'utf8').digest('base64url');
}

// The pepper as a KeyObject, made once: a string key is converted again on every HMAC, and this
// runs on every token request (client secrets, artifact ids, API keys).
const hmacKeys = new Map<string, crypto.KeyObject>();
function hmacKey(pepper: string): crypto.KeyObject {
  let key = hmacKeys.get(pepper);
  if (!key) {
    key = crypto.createSecretKey(Buffer.from(pepper, 'utf8'));
    if (hmacKeys.size >= 16) hmacKeys.clear(); // a server has one pepper; tests make a few
    hmacKeys.set(pepper, key);
  }
  return key;
}

/**
 * Compares two strings in time that does not depend on where they differ. Only whether the
 * lengths match can show, as with Go's subtle.ConstantTimeCompare: every caller compares
 * against a value whose length is public (a keyed hash, a CSRF token).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) {
    crypto.timingSafeEqual(left, left);
    return false;
  }
  return crypto.timingSafeEqual(left, right);
}
