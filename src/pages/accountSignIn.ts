// The account page's own sign-in. Someone signed out who opens /account (or /account/keys) is
// sent through an ordinary authorization request of Portcullis's internal public client
// (ACCOUNT_CLIENT_ID, src/accounts/sessions.ts): the code flow with PKCE (S256), a state, and
// the page's language as ui_locales, so they sign in on the same login page as for any app, and
// come back where they were. The verifier, state and way back travel in a sealed cookie of
// /account; the callback checks the code as a token endpoint would (this client, this redirect
// URI, the verifier against the challenge, the person of this browser's session) and consumes
// it, in-process: nothing leaves the server, and the code is good for nothing afterwards.
import crypto from 'node:crypto';
import type Koa from 'koa';
import type { RouterMiddleware } from '@koa/router';
import { ACCOUNT_CLIENT_ID, accountCallbackUrl } from '../accounts/index.ts';
import { seal, unseal, constantTimeEqual, randomSecret } from '../crypto/index.ts';
import { negotiateLanguage } from '../i18n/index.ts';
import { errorPage } from './respond.ts';
import type { PageDependencies } from './state.ts';

const COOKIE = 'portcullis.account-sign-in';
const CONTEXT = 'account-sign-in';
/** A sign-in begun more than this long ago does not come back here (the login page's own limit is shorter). */
const SIGN_IN_SECONDS = 30 * 60;

/**
 * Where a sign-in may come back to: the account pages' own GET paths, nothing else (no open
 * redirect). The invitation page is one: an organization's invitation opened signed out.
 */
export function safeReturnPath(path: string): string {
  return /^\/account(\/keys|\/organization-invitation)?$/.test(path) ? path : '/account';
}

interface Pending {
  state: string;
  verifier: string;
  returnTo: string;
  until: number;
}

const challengeOf = (verifier: string) => crypto.createHash('sha256').update(verifier).digest('base64url');

export function createAccountSignIn({
  provider,
  views,
  csrfKey,
  issuer,
}: Pick<PageDependencies, 'provider' | 'views' | 'csrfKey' | 'issuer'>) {
  const cookieOptions = (maxAge: number) => ({
    path: '/account',
    httpOnly: true,
    // Secure on an https issuer: the verifier never travels in the clear.
    secure: issuer.startsWith('https:'),
    sameSite: 'lax' as const,
    signed: false,
    overwrite: true,
    maxAge,
  });
  const t = (ctx: Koa.Context) => views.catalogue.translator(negotiateLanguage({ acceptLanguage: ctx.get('accept-language') }));

  /** Sends a signed-out visitor to sign in, to come back to `returnTo`. */
  function start(ctx: Koa.Context, returnTo: string): void {
    const pending: Pending = {
      state: randomSecret(16),
      verifier: randomSecret(32),
      returnTo: safeReturnPath(returnTo),
      until: Date.now() + SIGN_IN_SECONDS * 1000,
    };
    ctx.cookies.set(COOKIE, seal(csrfKey, CONTEXT, CONTEXT, JSON.stringify(pending)), cookieOptions(SIGN_IN_SECONDS * 1000));
    const parameters = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      redirect_uri: accountCallbackUrl(issuer),
      response_type: 'code',
      scope: 'openid',
      state: pending.state,
      code_challenge: challengeOf(pending.verifier),
      code_challenge_method: 'S256',
      ui_locales: negotiateLanguage({ acceptLanguage: ctx.get('accept-language') }),
    });
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`/auth?${parameters}`);
  }

  function pendingOf(ctx: Koa.Context): Pending | undefined {
    const sealed = ctx.cookies.get(COOKIE);
    if (!sealed) return undefined;
    ctx.cookies.set(COOKIE, null, cookieOptions(0));
    const opened = unseal(csrfKey, CONTEXT, CONTEXT, sealed);
    if (!opened) return undefined;
    try {
      const pending = JSON.parse(opened) as Pending;
      return pending.until > Date.now() ? pending : undefined;
    } catch {
      return undefined;
    }
  }

  /** GET /account/callback: the authorization response. */
  const callback: RouterMiddleware = async function accountCallback(ctx) {
    const translate = t(ctx);
    const failed = (code: string, key = 'account.signIn.failed') => errorPage(ctx, views, 400, { message: translate(key), code });
    const pending = pendingOf(ctx);
    const { state, code, error } = ctx.query;
    const live = provider();
    // A code of this client that reaches the callback is spent whatever else is wrong (a state
    // from another sign-in, a sign-in someone else started for this browser), so the URL it came
    // in is worth nothing to anyone who sees it later (a log, the history).
    const found = typeof code === 'string' && code.length <= 200 ? await live.AuthorizationCode.find(code) : undefined;
    if (!pending || typeof state !== 'string' || !constantTimeEqual(state, pending.state)) {
      if (found?.clientId === ACCOUNT_CLIENT_ID) await found.consume();
      return failed('invalid_state');
    }
    // "Cancel and return" on the login page: back to the issuer's own page, as any app would go back to its own.
    if (error === 'access_denied') {
      ctx.status = 303;
      ctx.redirect('/');
      return;
    }
    if (typeof error === 'string') return failed(error);
    if (typeof code !== 'string' || code.length > 200) return failed('invalid_request');
    const session = await live.Session.get(ctx);
    const valid =
      found !== undefined &&
      found.isValid &&
      found.clientId === ACCOUNT_CLIENT_ID &&
      found.redirectUri === accountCallbackUrl(issuer) &&
      found.codeChallengeMethod === 'S256' &&
      typeof found.codeChallenge === 'string' &&
      constantTimeEqual(found.codeChallenge, challengeOf(pending.verifier)) &&
      Boolean(session.accountId) &&
      found.accountId === session.accountId;
    if (!valid) return failed('invalid_grant');
    await found.consume();
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(pending.returnTo);
  };

  return { start, callback };
}
