// What the account page and the developer page share: the page's language, post/redirect/get
// with the flash (every POST answers 303 to a GET page, flash.ts), checking the person's own
// password again before a change that needs it (the same limits as a login, so a session left
// open is no way to guess it), and "sudo mode": the changes that would let someone who finds a
// session left open take the account over or carry its data away (an API key, a new email
// address, the data export) need a sign-in within RECENT_SIGN_IN_SECONDS or the password again.
import type { RouterContext } from '@koa/router';
import type Koa from 'koa';
import { negotiateLanguage, type Language } from '../i18n/index.ts';
import { createFlash, type Flash } from './flash.ts';
import { formText } from './form.ts';
import type { PageDependencies, SessionState } from './state.ts';

export type AccountContext = RouterContext<SessionState>;

/** The language of an account page: the browser's (Accept-Language), else English. */
export const pageLanguage = (ctx: Pick<Koa.Context, 'get'>): Language => negotiateLanguage({ acceptLanguage: ctx.get('accept-language') });

export type PasswordCheck = { ok: true } | { ok: false; retryAfterSeconds?: number };

export function createAccountSteps({
  csrfKey,
  users,
  limits,
  audit,
  flashReads,
  issuer,
  recentSignInSeconds,
}: Pick<PageDependencies, 'csrfKey' | 'users' | 'limits' | 'audit' | 'flashReads' | 'issuer' | 'recentSignInSeconds'>) {
  const flash = createFlash({ key: csrfKey, reads: flashReads, secure: issuer.startsWith('https:') });
  const steps = {
    /** The flash left for this session by the POST before, once. */
    takeFlash: async (ctx: AccountContext): Promise<Flash> => (await flash.take<Flash>(ctx, ctx.state.session.uid, ctx.path)) ?? {},

    /** Post/redirect/get: 303 to `path`, with what it (and no other page) should show once. */
    redirect(ctx: AccountContext, path: string, shown?: Flash): void {
      if (shown) flash.set(ctx, ctx.state.session.uid, shown, path.split('?')[0]);
      ctx.status = 303;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(path);
    },

    /**
     * The person's password, typed again in the form's `field`. Counted as a login attempt (the
     * login limits lock it out the same way), and a wrong one is a failed-login audit event.
     */
    async checkPassword(ctx: AccountContext, field: string, purpose: string): Promise<PasswordCheck> {
      const password = formText(ctx, field);
      const user = await users.findById(ctx.state.session.accountId);
      if (!user || !password) return { ok: false };
      const attempt = await limits.beginLogin(user.email, ctx.ip);
      if (!attempt.allowed) {
        ctx.set('Retry-After', String(attempt.retryAfterSeconds));
        return { ok: false, retryAfterSeconds: attempt.retryAfterSeconds };
      }
      if (await users.verifyLogin(user.email, password)) {
        await attempt.succeeded();
        return { ok: true };
      }
      await audit.record({
        type: 'login',
        actorType: 'user',
        actorId: user.id,
        subject: user.id,
        ip: ctx.ip,
        outcome: 'failure',
        details: { purpose },
      });
      return { ok: false };
    },

    /** Whether this session signed in within RECENT_SIGN_IN_SECONDS (then sudo mode asks for no password). */
    recentSignIn: (ctx: AccountContext): boolean => Math.floor(Date.now() / 1000) - (ctx.state.session.loginTs ?? 0) <= recentSignInSeconds,

    /**
     * Sudo mode: a recent sign-in, or the person's password in the form's `password` field.
     * When neither, redirects to `back` with the refusal (focus on `field`, the typed `values`
     * kept) and returns false; the caller then stops.
     */
    async confirmRecentSignIn(
      ctx: AccountContext,
      { field, back, purpose, values }: { field: string; back: string; purpose: string; values?: Record<string, string> },
    ): Promise<boolean> {
      if (steps.recentSignIn(ctx)) return true;
      const checked = await steps.checkPassword(ctx, 'password', purpose);
      if (checked.ok) return true;
      steps.redirect(ctx, back, {
        error: checked.retryAfterSeconds
          ? { key: 'account.too_many', values: { minutes: Math.ceil(checked.retryAfterSeconds / 60) }, field }
          : { key: 'account.confirm_it_is_you', field },
        ...(values ? { values } : {}),
      });
      return false;
    },
  };
  return steps;
}

export type AccountSteps = ReturnType<typeof createAccountSteps>;
