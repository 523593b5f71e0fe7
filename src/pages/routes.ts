// The pages a person sees: login, consent, the account page, and the error and logout pages
// oidc-provider renders through us (src/oidc/provider.ts). Each route reads top to bottom as
// the steps of the request.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import Provider, { type InteractionResults } from 'oidc-provider';
import type { AuditAggregator, AuditLog } from '../audit/index.ts';
import type { ApiKeyService } from '../apikeys/index.ts';
import { networkOf, type LoginLimits } from '../limits/index.ts';
import { InputError, NotFoundError } from '../errors/index.ts';
import type { GrantService } from '../grants/index.ts';
import type { ResourceService } from '../resources/index.ts';
import type { UserService } from '../users/index.ts';
import { csrfToken, csrfValid } from './csrf.ts';
import { describeScopes } from './scopes.ts';
import type { Views } from '../templates/index.ts';

export interface InteractionDependencies {
  provider: () => Provider;
  views: Views;
  users: UserService;
  resources: ResourceService;
  audit: AuditLog;
  /** Where events an attacker can cause in bulk are counted (blocked logins). */
  auditAggregates: AuditAggregator;
  grants: GrantService;
  apiKeys: ApiKeyService;
  limits: LoginLimits;
  csrfKey: string;
  /** Lifetimes a person may choose for a key of their own, in days. */
  userKeyDays: { default: number; max: number };
  /**
   * Creating or rotating a key needs a sign-in this recent, or the password again (as GitHub's
   * sudo mode asks): a session left open on a shared machine must not mint long-lived credentials.
   */
  recentSignInSeconds: number;
}

/** One message for every login failure: it must not tell whether the email exists (OWASP ASVS 2.2). */
export const LOGIN_FAILED = 'That email and password do not match an account.';

const words = (value: unknown) =>
  String(value ?? '')
    .split(' ')
    .filter(Boolean);

/** A time for people: "2026-12-02 21:40 UTC", not an ISO timestamp. */
const readableTime = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function html(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

export function createInteractionRoutes({
  provider,
  views,
  users,
  resources,
  audit,
  auditAggregates,
  grants: grantService,
  apiKeys,
  limits,
  csrfKey,
  userKeyDays,
  recentSignInSeconds,
}: InteractionDependencies): Middleware {
  const router = new Router();
  // Forms only, and small: a login form is a few hundred bytes.
  const forms = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });

  async function clientName(clientId: unknown): Promise<string> {
    const client = typeof clientId === 'string' ? await provider().Client.find(clientId) : undefined;
    return client?.clientName ?? 'the application';
  }

  /**
   * Turns what goes wrong in a flow into the error page with the right status, never a 500:
   * an expired or finished interaction (oidc-provider's SessionNotFound), a body too large (413),
   * a step that does not fit the prompt (400).
   */
  const pageErrors: Middleware = async function pageErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      const { status, statusCode, error: code, error_description: description, expose, message } = error as Record<string, unknown>;
      const httpStatus = Number(status ?? statusCode);
      if (!(httpStatus >= 400 && httpStatus < 500) && !expose) throw error;
      const expired = code === 'invalid_request' && /interaction|session/i.test(String(description ?? ''));
      html(
        ctx,
        httpStatus >= 400 && httpStatus < 500 ? httpStatus : 400,
        views.render('error', {
          message: expired
            ? 'This sign-in page has expired or was already used. Go back to the application and start again.'
            : String(description ?? message ?? 'The request could not be completed.'),
          code: typeof code === 'string' ? code : httpStatus === 413 ? 'request_too_large' : 'invalid_request',
        }),
      );
    }
  };

  const loadInteraction: Middleware = async function loadInteraction(ctx, next) {
    ctx.state.interaction = await provider().interactionDetails(ctx.req, ctx.res);
    // The uid in the path must be the interaction this browser's cookie belongs to.
    if (ctx.state.interaction.uid !== ctx.params.uid) ctx.throw(400, 'this page belongs to another sign-in');
    await next();
  };

  const checkCsrf = (purpose: string, binding: (ctx: Context) => string): Middleware =>
    async function checkCsrf(ctx, next) {
      const body = ctx.request.body as Record<string, unknown> | undefined;
      if (!csrfValid(csrfKey, purpose, binding(ctx), body?.csrf)) {
        html(
          ctx,
          403,
          views.render('error', {
            message: 'This form has expired or did not come from this site. Go back and try again.',
            code: 'invalid_csrf_token',
          }),
        );
        return;
      }
      await next();
    };
  const interactionCsrf = checkCsrf('interaction', (ctx) => ctx.state.interaction.uid);

  async function renderLogin(ctx: Context, status: number, error?: string, email?: string) {
    const { uid, params } = ctx.state.interaction;
    html(
      ctx,
      status,
      views.render('login', {
        uid,
        clientName: await clientName(params.client_id),
        csrf: csrfToken(csrfKey, 'interaction', uid),
        error,
        email,
      }),
    );
  }

  async function renderConsent(ctx: Context) {
    const { uid, params, prompt, session } = ctx.state.interaction;
    const details = prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    const requestedResources = await Promise.all(
      Object.entries(details.missingResourceScopes ?? {}).map(async ([audience, scopes]) => {
        const resource = await resources.findByAudience(audience);
        return { audience, name: resource?.name ?? null, scopes };
      }),
    );
    const user = await users.findById(session.accountId);
    html(
      ctx,
      200,
      views.render('consent', {
        uid,
        clientName: await clientName(params.client_id),
        email: user?.email ?? '',
        requests: describeScopes(details.missingOIDCScope ?? [], requestedResources),
        csrf: csrfToken(csrfKey, 'interaction', uid),
      }),
    );
  }

  router.get('/interaction/:uid', pageErrors, loadInteraction, async function showPrompt(ctx) {
    const { prompt } = ctx.state.interaction;
    if (prompt.name === 'login') return renderLogin(ctx, 200);
    if (prompt.name === 'consent') return renderConsent(ctx);
    html(ctx, 400, views.render('error', { message: 'This sign-in step is not supported.', code: prompt.name }));
  });

  router.post('/interaction/:uid/login', pageErrors, loadInteraction, forms, interactionCsrf, async function login(ctx) {
    const { prompt, params } = ctx.state.interaction;
    if (prompt.name !== 'login') ctx.throw(400, 'not expecting a login');
    const body = ctx.request.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const account = email.trim().toLowerCase();
    const event = {
      type: 'login',
      actorType: 'user' as const,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 300),
      details: { client_id: params.client_id },
    };
    // Brute force (src/limits/logins.ts): the attempt is counted before the password is checked, so
    // a burst cannot slip checks past the limit. The answer is the same whether or not the
    // account exists, and no password is checked while blocked.
    const attempt = await limits.beginLogin(account, ctx.ip);
    if (!attempt.allowed) {
      // One row per account, network and minute, with a count: a flood cannot fill the table.
      auditAggregates.count(`login.blocked|${account}|${networkOf(ctx.ip)}`, {
        ...event,
        type: 'login.blocked',
        subject: account.slice(0, 320),
        outcome: 'failure',
        details: { ...event.details, reason: attempt.reason, network: networkOf(ctx.ip) },
      });
      const wait = attempt.retryAfterSeconds;
      ctx.set('Retry-After', String(wait));
      return renderLogin(ctx, 429, `Too many attempts. Try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? 's' : ''}.`, email);
    }
    const user = await users.verifyLogin(email, typeof body.password === 'string' ? body.password : '');
    if (!user) {
      // The address tried is kept (not the password), so attacks on one account can be found.
      await audit.record({ ...event, subject: account.slice(0, 320), outcome: 'failure' });
      return renderLogin(ctx, 401, LOGIN_FAILED, email);
    }
    await attempt.succeeded();
    await audit.record({ ...event, actorId: user.id, subject: user.id, outcome: 'success' });
    const result: InteractionResults = { login: { accountId: user.id } };
    await provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
  });

  router.post('/interaction/:uid/confirm', pageErrors, loadInteraction, forms, interactionCsrf, async function confirm(ctx) {
    const { prompt, params, session, grantId } = ctx.state.interaction;
    if (prompt.name !== 'consent' || !session?.accountId) ctx.throw(400, 'not expecting consent');
    const { Grant } = provider();
    const grant = grantId ? await Grant.find(grantId) : new Grant({ accountId: session.accountId, clientId: params.client_id as string });
    if (!grant) return ctx.throw(400, 'the grant is gone');
    const details = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (details.missingOIDCScope?.length) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims?.length) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [audience, scopes] of Object.entries(details.missingResourceScopes ?? {}))
      grant.addResourceScope(audience, scopes.join(' '));
    const savedGrantId = await grant.save();
    await audit.record({
      type: 'consent.given',
      actorType: 'user',
      actorId: session.accountId,
      subject: params.client_id as string,
      ip: ctx.ip,
      outcome: 'success',
      details: { scope: words(details.missingOIDCScope?.join(' ')), resources: Object.keys(details.missingResourceScopes ?? {}) },
    });
    await provider().interactionFinished(ctx.req, ctx.res, { consent: { grantId: savedGrantId } }, { mergeWithLastSubmission: true });
    ctx.respond = false;
  });

  router.post('/interaction/:uid/abort', pageErrors, loadInteraction, forms, interactionCsrf, async function abort(ctx) {
    await provider().interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'the user cancelled' },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  });

  // The account page: who is signed in here, and which apps they let in.
  const loadSession: Middleware = async function loadSession(ctx, next) {
    const session = await provider().Session.get(ctx as never);
    if (!session.accountId) {
      html(ctx, 401, views.render('error', { message: 'Sign in through an application to see your account.', code: 'login_required' }));
      return;
    }
    ctx.state.session = session;
    await next();
  };
  const sessionCsrf = checkCsrf('account', (ctx) => ctx.state.session.uid);

  async function renderAccount(ctx: Context, notice?: string) {
    const { session } = ctx.state;
    const user = await users.findById(session.accountId);
    // One line per app, however many grants (one per browser session) it holds.
    const byClient = new Map<string, Set<string>>();
    for (const grant of await grantService.listForAccount(session.accountId)) {
      const scopes = byClient.get(grant.client_id) ?? new Set<string>();
      for (const scope of [...words(grant.scope), ...Object.values(grant.resources).flatMap(words)]) scopes.add(scope);
      byClient.set(grant.client_id, scopes);
    }
    const apps = await Promise.all(
      [...byClient].map(async ([clientId, scopes]) => ({
        clientId,
        clientName: await clientName(clientId),
        scopes: [...scopes].join(', '),
      })),
    );
    html(ctx, 200, views.render('account', { email: user?.email ?? '', apps, csrf: csrfToken(csrfKey, 'account', session.uid), notice }));
  }

  router.get('/account', pageErrors, loadSession, async function showAccount(ctx) {
    await renderAccount(ctx);
  });

  router.post('/account/apps/:clientId/revoke', pageErrors, loadSession, forms, sessionCsrf, async function revokeApp(ctx) {
    // Only the signed-in user's own grants are touched; for any other client nothing is found.
    const revoked = await grantService.revokeClient(ctx.state.session.accountId, ctx.params.clientId!);
    if (revoked === 0) {
      html(ctx, 404, views.render('error', { message: 'There is no such access to revoke.', code: 'not_found' }));
      return;
    }
    await renderAccount(ctx, 'Access revoked. The app can no longer use your account.');
  });

  // The developer page: a signed-in person's own API keys.
  async function renderKeys(
    ctx: Context,
    extra: { newKey?: { name: string; key: string; previousExpiresAt?: string }; error?: string; notice?: string; status?: number } = {},
  ) {
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
    // Only APIs an administrator opened to people, each with the scopes it offers them.
    const offered = (await resources.list())
      .map((resource) => ({ ...resource, personalScopes: resource.personal_key_scope.split(' ').filter(Boolean) }))
      .filter((resource) => resource.personalScopes.length > 0);
    const lifetimes = [30, 90, 365, userKeyDays.default, userKeyDays.max]
      .filter((days, index, all) => days <= userKeyDays.max && all.indexOf(days) === index)
      .sort((a, b) => a - b)
      .map((days) => ({ days, seconds: days * 86_400, selected: days === userKeyDays.default }));
    html(
      ctx,
      extra.status ?? 200,
      views.render('keys', {
        email: user?.email ?? '',
        keys,
        resources: offered,
        lifetimes,
        needsPassword: !recentSignIn(ctx),
        csrf: csrfToken(csrfKey, 'account', session.uid),
        ...extra,
      }),
    );
  }

  const recentSignIn = (ctx: Context) => Math.floor(Date.now() / 1000) - Number(ctx.state.session.loginTs ?? 0) <= recentSignInSeconds;

  /**
   * Sudo mode: a recent sign-in, or the person's password in the form (checked with the same
   * limits as a login). Renders the refusal and returns false when neither.
   */
  async function confirmRecentSignIn(ctx: Context): Promise<boolean> {
    if (recentSignIn(ctx)) return true;
    const body = ctx.request.body as Record<string, unknown>;
    const password = typeof body.password === 'string' ? body.password : '';
    const user = await users.findById(ctx.state.session.accountId);
    if (user && password) {
      const attempt = await limits.beginLogin(user.email, ctx.ip);
      if (!attempt.allowed) {
        ctx.set('Retry-After', String(attempt.retryAfterSeconds));
        await renderKeys(ctx, { error: 'Too many attempts. Try again later.', status: 429 });
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
    await renderKeys(ctx, { error: 'Confirm it is you: enter your password.', status: 401 });
    return false;
  }

  const asOwner = (ctx: Context) => ({
    ownerUserId: ctx.state.session.accountId as string,
    actor: { type: 'user' as const, id: ctx.state.session.accountId as string },
  });

  router.get('/account/keys', pageErrors, loadSession, async function showKeys(ctx) {
    await renderKeys(ctx);
  });

  router.post('/account/keys', pageErrors, loadSession, forms, sessionCsrf, async function createKey(ctx) {
    const body = ctx.request.body as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : '');
    // Checkboxes: one value, or several under the same name.
    const scopes = (Array.isArray(body.scope) ? body.scope : [body.scope]).map(text).join(' ');
    if (!(await confirmRecentSignIn(ctx))) return;
    try {
      // Which scopes a person may put on a key of their own is the API's setting
      // (personal_key_scope), checked by the service for every surface alike.
      const expires = Number(text(body.expires));
      const created = await apiKeys.create(
        {
          name: text(body.name),
          scope: scopes,
          audiences: text(body.audience) ? [text(body.audience)] : [],
          ...(expires > 0 ? { expiresInSeconds: expires } : {}),
          ownerUserId: ctx.state.session.accountId,
        },
        { type: 'user', id: ctx.state.session.accountId },
      );
      await renderKeys(ctx, { newKey: { name: created.name, key: created.key } });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      await renderKeys(ctx, { error: error.message, status: 400 });
    }
  });

  router.post('/account/keys/:id/rotate', pageErrors, loadSession, forms, sessionCsrf, async function rotateKey(ctx) {
    if (!(await confirmRecentSignIn(ctx))) return;
    try {
      const rotated = await apiKeys.rotate(ctx.params.id!, 24 * 3600, asOwner(ctx));
      await renderKeys(ctx, {
        newKey: { name: rotated.name, key: rotated.key, previousExpiresAt: readableTime(rotated.previous_key_expires_at) },
      });
    } catch (error) {
      if (error instanceof NotFoundError) return renderKeys(ctx, { error: 'There is no such key.', status: 404 });
      if (error instanceof InputError) return renderKeys(ctx, { error: error.message, status: 400 });
      throw error;
    }
  });

  router.post('/account/keys/:id/revoke', pageErrors, loadSession, forms, sessionCsrf, async function revokeKey(ctx) {
    try {
      const revoked = await apiKeys.revoke(ctx.params.id!, asOwner(ctx));
      await renderKeys(ctx, { notice: `Revoked ${revoked.name}. It stopped working at once.` });
    } catch (error) {
      if (error instanceof NotFoundError) return renderKeys(ctx, { error: 'There is no such key.', status: 404 });
      throw error;
    }
  });

  return router.routes() as unknown as Middleware;
}
