// CSRF tokens for Portcullis's forms: an HMAC, under the first cookie key, of what the form
// acts on (an interaction's uid, or a session's uid). A page that did not come from us cannot
// know it. Written here because the common Koa CSRF libraries need a server-side session
// store, and every form here is already bound to a signed oidc-provider cookie.
import crypto from 'node:crypto';
import type Koa from 'koa';
import { constantTimeEqual } from '../crypto/index.ts';
import type { Views } from '../templates/index.ts';
import { formField } from './form.ts';
import { errorPage } from './respond.ts';

export function csrfToken(key: string, purpose: string, binding: string): string {
  return crypto.createHmac('sha256', key).update(`csrf:${purpose}:${binding}`).digest('base64url');
}

export function csrfValid(key: string, purpose: string, binding: string, presented: unknown): boolean {
  return typeof presented === 'string' && constantTimeEqual(csrfToken(key, purpose, binding), presented);
}

/**
 * Lets a form's POST through only with the token of what it acts on (`binding`, read from the
 * state a loader put there); anything else is the 403 page, and the action never runs.
 */
export function checkCsrf<State>(
  { csrfKey, views }: { csrfKey: string; views: Views },
  purpose: string,
  binding: (state: State) => string,
): Koa.Middleware<State> {
  return async function checkCsrf(ctx, next) {
    if (!csrfValid(csrfKey, purpose, binding(ctx.state), formField(ctx, 'csrf'))) {
      errorPage(ctx, views, 403, { key: 'errors.csrf', code: 'invalid_csrf_token' });
      return;
    }
    await next();
  };
}
