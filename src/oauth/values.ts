// The syntax of OAuth values that several services check: scopes and resource indicators.
import { InputError } from '../errors/index.ts';

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 section 3.3

/** The scopes of a space-separated scope string (nothing for an empty or missing one). */
export function scopeWords(scope: unknown): string[] {
  return typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
}

/** Splits, de-duplicates and checks a space-separated scope. Returns it normalized. */
export function normalizeScope(scope: string | undefined, field = 'scope'): string {
  const tokens = [...new Set((scope ?? '').split(' ').filter(Boolean))];
  for (const token of tokens) {
    if (!scopeToken.test(token)) throw new InputError(field, `${JSON.stringify(token)} is not a valid scope token`);
  }
  return tokens.join(' ');
}

/** True when `value` holds a C0 control character or DEL (never valid in an email or URI). */
export function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * Whether a string from a request can be used in a database lookup at all. PostgreSQL text
 * cannot hold NUL (it fails the whole query), so a value with one can match nothing.
 */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000') && value.length <= 4096;
}

/** RFC 8707 section 2: a resource indicator is an absolute URI without a fragment. */
export function validateAudience(audience: string, field = 'audience'): string {
  let url: URL;
  try {
    url = new URL(audience);
  } catch {
    throw new InputError(field, `${JSON.stringify(audience)} is not an absolute URI`);
  }
  if (url.hash || audience.includes('#')) throw new InputError(field, 'must not contain a fragment (RFC 8707 section 2)');
  if (audience.length > 2000) throw new InputError(field, 'must be at most 2000 characters');
  if (hasControlCharacters(audience)) throw new InputError(field, 'must not contain control characters');
  return audience;
}
