// The developer page: a signed-in person's own API keys. Listing, creating, rotating and
// revoking them; creating and rotating need a recent sign-in or the password again (sudo mode).
// Which APIs and scopes a person may put on a key, and for how long, are the services' rules
// (resources.offeredToPeople, apiKeys.personalKeyLifetimes); their refusals are shown as they
// word them.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import { InputError, NotFoundError } from '../errors/index.ts';
import { csrfToken } from './csrf.ts';
import { formText, formTexts } from './form.ts';
import { html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

type Context = RouterContext<SessionState>;

/** What the page shows besides the list: a key made just now, a refusal or a notice. */
interface Outcome {
  newKey?: { name: string; key: string; previousExpiresAt?: string };
  error?: string;
  notice?: string;
  status?: number;
}

/** A time for people: "2026-12-02 21:40 UTC", not an ISO timestamp. */
const readableTime = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

export function createKeysPage({ views, users, resources, audit, apiKeys, limits, csrfKey, recentSignInSeconds }: PageDependencies) {
  async function render(ctx: Context, outcome: Outcome = {}): Promise<void> {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    const now = Date.now();
    const keys = (await apiKeys.list({ ownerUserId: session.accountId })).map((key) => {
      const expired = key.expires_at !== null && Date.parse(key.expires_at) <= now;
      const status = key.revoked_at
        ? 'revoked'
        : expired
          ? 'expired'
          : key.expires_at
            ? `active, expires ${key.expires_at.slice(0, 10)}`
            : 'active';
      return { ...key, status, active: !key.revoked_at && !expired };
    });
    const offered = (await resources.offeredToPeople()).map((resource) => ({ ...resource, personalScopes: resource.personal_scopes }));
    // The form's select sends seconds, as the key's lifetime is given to the service.
    const lifetimes = apiKeys.personalKeyLifetimes().map(({ days, selected }) => ({ days, seconds: days * 86_400, selected }));
    html(
      ctx,
      outcome.status ?? 200,
      views.render('keys', {
        email: user?.email ?? '',
        keys,
        resources: offered,
        lifetimes,
        needsPassword: !recentSignIn(ctx),
        csrf: csrfToken(csrfKey, 'account', session.uid),
        ...outcome,
      }),
    );
  }

  const recentSignIn = (ctx: Context) => Math.floor(Date.now() / 1000) - (ctx.state.session.loginTs ?? 0) <= recentSignInSeconds;

  /**
   * Sudo mode: a recent sign-in, or the person's password in the form (checked with the same
   * limits as a login). Renders the refusal and returns false when neither.
   */
  async function confirmRecentSignIn(ctx: Context): Promise<boolean> {
    if (recentSignIn(ctx)) return true;
    const password = formText(ctx, 'password');
    const user = await users.findById(ctx.state.session.accountId);
    if (user && password) {
      const attempt = await limits.beginLogin(user.email, ctx.ip);
      if (!attempt.allowed) {
        ctx.set('Retry-After', String(attempt.retryAfterSeconds));
        await render(ctx, { error: 'Too many attempts. Try again later.', status: 429 });
        return false;
      }
      if (await users.verifyLogin(user.email, password)) {
        await attempt.succeeded();
        return true;
      }
      await audit.record({
        type: 'login',
        actorType: 'user',
        actorId: user.id,
        subject: user.id,
        ip: ctx.ip,
        outcome: 'failure',
        details: { purpose: 'confirm_api_key' },
      });
    }
    await render(ctx, { error: 'Confirm it is you: enter your password.', status: 401 });
    return false;
  }

  const show: RouterMiddleware<SessionState> = async function showKeys(ctx) {
    await render(ctx);
  };

  const create: RouterMiddleware<SessionState> = async function createKey(ctx) {
    if (!(await confirmRecentSignIn(ctx))) return;
    const audience = formText(ctx, 'audience');
    const expires = Number(formText(ctx, 'expires'));
    try {
      // The service makes the key the actor's own, and checks the scopes against what the API
      // offers to people (its personal_key_scope), as for every surface.
      const created = await apiKeys.create(
        {
          name: formText(ctx, 'name'),
          scope: formTexts(ctx, 'scope').join(' '),
          audiences: audience ? [audience] : [],
          ...(expires > 0 ? { expires_in_seconds: expires } : {}),
        },
        ctx.state.actor,
      );
      await render(ctx, { newKey: { name: created.name, key: created.key } });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      await render(ctx, { error: error.message, status: 400 });
    }
  };

  const rotate: RouterMiddleware<SessionState> = async function rotateKey(ctx) {
    if (!(await confirmRecentSignIn(ctx))) return;
    try {
      // No grace given: the schema's default, one day, for the old key to be replaced where it is used.
      const rotated = await apiKeys.rotate(ctx.params.id!, {}, ctx.state.actor);
      await render(ctx, {
        newKey: { name: rotated.name, key: rotated.key, previousExpiresAt: readableTime(rotated.previous_key_expires_at) },
      });
    } catch (error) {
      if (error instanceof NotFoundError) return render(ctx, { error: 'There is no such key.', status: 404 });
      if (error instanceof InputError) return render(ctx, { error: error.message, status: 400 });
      throw error;
    }
  };

  const revoke: RouterMiddleware<SessionState> = async function revokeKey(ctx) {
    try {
      const revoked = await apiKeys.revoke(ctx.params.id!, ctx.state.actor);
      await render(ctx, { notice: `Revoked ${revoked.name}. It stopped working at once.` });
    } catch (error) {
      // Someone else's key is not found either: a person's actor finds only their own.
      if (error instanceof NotFoundError) return render(ctx, { error: 'There is no such key.', status: 404 });
      throw error;
    }
  };

  return { show, create, rotate, revoke };
}
