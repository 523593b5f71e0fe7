// CSRF tokens for Portcullis's forms: an HMAC, under the first cookie key, of what the form
// acts on (an interaction's uid, or a session's uid). A page that did not come from us cannot
// know it. Written here because the common Koa CSRF libraries need a server-side session
// store, and every form here is already bound to a signed oidc-provider cookie.
import crypto from 'node:crypto';
import { constantTimeEqual } from '../crypto/index.ts';

export function csrfToken(key: string, purpose: string, binding: string): string {
  return crypto.createHmac('sha256', key).update(`csrf:${purpose}:${binding}`).digest('base64url');
}

export function csrfValid(key: string, purpose: string, binding: string, presented: unknown): boolean {
  return typeof presented === 'string' && constantTimeEqual(csrfToken(key, purpose, binding), presented);
}
