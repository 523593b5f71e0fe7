// The login step of a sign-in: the form, and checking what was typed into it under the login
// limits (src/limits/logins.ts), with one answer for every failure. The form links to the
// forgotten-password page (when mail reaches people) and to sign-up (only when SIGNUP=open),
// and after a failed attempt focus is on the password, the field to type again (WCAG 2.2,
// 3.3.1). An account whose address is not verified is refused when EMAIL_VERIFICATION=required,
// with a way to have the mail sent again; only someone who knew the password is told so.
// Every answer to the form is a redirect (post/redirect/get): a refusal goes back to the sign-in's
// page with what to say in the flash (flash.ts), which that GET shows with the refusal's status
// (401, 403, 429 with Retry-After), so a reload shows the page again instead of sending the
// password again.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import type { InteractionResults } from 'oidc-provider';
import { networkOf } from '../limits/index.ts';
import { ACR } from '../oidc/index.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail } from '../users/index.ts';
import { clientName } from './apps.ts';
import { csrfToken } from './csrf.ts';
import { createFlash } from './flash.ts';
import { formText } from './form.ts';
import { html, requestLanguage } from './respond.ts';
import type { FederationSteps } from './federation.ts';
import { linkPendingIdentity } from './federationState.ts';
import type { SecondFactorSteps } from './secondFactor.ts';
import type { SignInPolicy } from './signInPolicy.ts';
import type { InteractionState, PageDependencies } from './state.ts';

export function createLoginPage(
  dependencies: PageDependencies,
  secondFactor: SecondFactorSteps,
  federationSteps: FederationSteps,
  policy: SignInPolicy,
) {
  const {
    provider,
    views,
    users,
    audit,
    auditAggregates,
    limits,
    csrfKey,
    signup,
    mailDeliverable,
    emailVerification,
    flashReads,
    issuer,
    factors,
    mfa,
  } = dependencies;
  const flashes = createFlash({ key: csrfKey, reads: flashReads, secure: issuer.startsWith('https:') });
  const pagePath = (uid: string) => `/interaction/${uid}`;

  /** A refusal: 303 back to the sign-in's page, which shows it once with `status`. */
  function refuse(ctx: RouterContext<InteractionState>, refusal: LoginRefusal): void {
    const { uid } = ctx.state.interaction;
    flashes.set(ctx, uid, refusal, pagePath(uid));
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(pagePath(uid));
  }

  /** The sign-in's page: the form, with the refusal the last POST left (once), if any. */
  async function showPage(ctx: RouterContext<InteractionState>): Promise<void> {
    // Past the password already (or signed in and asked for a second factor): that step's page.
    if (await secondFactor.show(ctx)) return;
    // An address an upstream does not vouch for, waiting for its mailed code.
    if (await federationSteps.showProof(ctx)) return;
    // An app's connection=NAME, or a client whose only way in is a connection: straight upstream.
    if (await federationSteps.autoStart(ctx)) return;
    const { uid } = ctx.state.interaction;
    const refusal = await flashes.take<LoginRefusal>(ctx, uid, pagePath(uid));
    if (!refusal) return show(ctx, 200);
    if (refusal.retryAfterSeconds) ctx.set('Retry-After', String(refusal.retryAfterSeconds));
    return show(ctx, refusal.status, refusal.error, refusal.email);
  }

  /** `error` is a catalogue key (with `values`); `unverified` adds the link that sends the verification mail again. */
  async function show(
    ctx: RouterContext<InteractionState>,
    status: number,
    error?: { key: string; values?: Record<string, unknown>; unverified?: boolean },
    email?: string,
  ): Promise<void> {
    const { uid, params } = ctx.state.interaction;
    const lang = requestLanguage(ctx, params.ui_locales);
    const t = views.catalogue.translator(lang);
    html(
      ctx,
      status,
      views.render('login', {
        uid,
        clientName: await clientName(provider(), params.client_id),
        csrf: csrfToken(csrfKey, 'interaction', uid),
        error: error ? t(error.key, error.values ?? {}) : undefined,
        unverified: error?.unverified === true,
        // What was typed, else the address of an account an upstream identity waits to be linked
        // to, else the app's login_hint (OpenID Connect Core section 3.1.2.1).
        email: email ?? federationSteps.pendingLink(ctx)?.email ?? loginHint(params.login_hint),
        signupUrl: signup === 'open' && mailDeliverable ? `/signup?interaction=${encodeURIComponent(uid)}` : undefined,
        forgotUrl: mailDeliverable ? `/forgot-password?interaction=${encodeURIComponent(uid)}` : undefined,
        // Passwordless sign-in with a passkey (a button, and the browser's autofill), unless MFA=off.
        passkeyOptions:
          mfa === 'off' ? undefined : JSON.stringify(await factors.passkeys.authenticationOptions({ kind: 'interaction', uid })),
        // A button per enabled connection, and the notice of an upstream identity waiting to be linked.
        connections: await federationSteps.buttons(ctx),
        pendingLink: federationSteps.pendingLink(ctx),
        lang,
      }),
    );
  }

  const submit: RouterMiddleware<InteractionState> = async function login(ctx) {
    const { prompt, params } = ctx.state.interaction;
    if (prompt.name !== 'login' || (await policy.onlyConnection(ctx))) ctx.throw(400, 'not expecting a login');
    const email = formText(ctx, 'email').slice(0, MAX_EMAIL_LENGTH);
    const account = normalizeEmail(email);
    const event = {
      type: 'login',
      actorType: 'user' as const,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 300),
      details: { client_id: params.client_id },
    };
    // Brute force: the attempt is counted before the password is checked, so a burst cannot
    // slip checks past the limit. The answer is the same whether or not the account exists,
    // and no password is checked while blocked.
    const attempt = await limits.beginLogin(account, ctx.ip);
    if (!attempt.allowed) {
      // One row per account, network and minute, with a count: a flood cannot fill the table.
      auditAggregates.count(`login.blocked|${account}|${networkOf(ctx.ip)}`, {
        ...event,
        type: 'login.blocked',
        subject: account.slice(0, MAX_EMAIL_LENGTH),
        outcome: 'failure',
        details: { ...event.details, reason: attempt.reason, network: networkOf(ctx.ip) },
      });
      const wait = attempt.retryAfterSeconds;
      return refuse(ctx, {
        status: 429,
        error: { key: 'login.too_many', values: { count: Math.ceil(wait / 60) } },
        email,
        retryAfterSeconds: wait,
      });
    }
    const user = await users.verifyLogin(email, formText(ctx, 'password'));
    if (!user) {
      // The address tried is kept (not the password), so attacks on one account can be found.
      await audit.record({ ...event, subject: account.slice(0, MAX_EMAIL_LENGTH), outcome: 'failure' });
      return refuse(ctx, { status: 401, error: { key: 'login.failed' }, email });
    }
    if (!user.emailVerified && emailVerification === 'required') {
      // The password was right, so this tells nothing to someone who did not know it.
      await attempt.succeeded();
      await audit.record({
        ...event,
        actorId: user.id,
        subject: user.id,
        outcome: 'failure',
        details: { ...event.details, reason: 'email_unverified' },
      });
      return refuse(ctx, { status: 403, error: { key: 'login.unverified', unverified: true }, email });
    }
    // Does this sign-in need a second factor (src/oidc/authentication.ts)?
    const decision = await policy.secondFactorFor(ctx, user.id);
    if (decision.kind === 'unmet') {
      // Nothing this server offers could satisfy it: OpenID Connect's error, back to the app.
      await attempt.succeeded();
      await audit.record({
        ...event,
        actorId: user.id,
        subject: user.id,
        outcome: 'failure',
        details: { ...event.details, reason: 'unmet_authentication_requirements' },
      });
      return policy.refuseUnmet(ctx, decision.description);
    }
    if (decision.kind === 'second_factor') {
      // The password was right; the sign-in goes on to the second factor, and the attempt is
      // given back without clearing the account's count (that waits for the second factor).
      await attempt.firstFactorPassed();
      await audit.record({
        ...event,
        actorId: user.id,
        subject: user.id,
        outcome: 'success',
        details: { ...event.details, second_factor: 'pending' },
      });
      return secondFactor.begin(ctx, { accountId: user.id, amr: ['pwd'] });
    }
    await attempt.succeeded();
    await audit.record({ ...event, actorId: user.id, subject: user.id, outcome: 'success' });
    // The person proved they own this account: an upstream identity waiting for that is linked.
    await linkPendingIdentity(dependencies, ctx, user.id);
    const result: InteractionResults = {
      login: { accountId: user.id, amr: ['pwd'], acr: ACR.password, ts: Math.floor(Date.now() / 1000) },
    };
    await provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    // oidc-provider has answered (a redirect back to the authorization endpoint).
    ctx.respond = false;
  };

  /**
   * Passwordless: a passkey from the login page's button or the browser's autofill. The
   * authenticator verified the person (user verification is required), so it is two factors in
   * one: the sign-in satisfies any request.
   */
  const passkey: RouterMiddleware<InteractionState> = async function passkeySignIn(ctx) {
    const { prompt, params, uid } = ctx.state.interaction;
    if (prompt.name !== 'login' || mfa === 'off' || (await policy.onlyConnection(ctx))) ctx.throw(400, 'not expecting a passkey');
    const event = {
      type: 'login',
      actorType: 'user' as const,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent').slice(0, 300),
      details: { client_id: params.client_id, method: 'passkey' },
    };
    const checked = await factors.passkeys.authenticate(formText(ctx, 'response').slice(0, 12_000), { kind: 'interaction', uid });
    const user = checked.ok ? await users.findById(checked.userId) : null;
    if (!checked.ok || !user || user.disabled) {
      await audit.record({
        ...event,
        outcome: 'failure',
        details: { ...event.details, reason: checked.ok ? 'account_gone' : checked.problem },
      });
      return refuse(ctx, {
        status: 401,
        error: { key: `login.passkey.problems.${checked.ok ? 'unknown_credential' : checked.problem}` },
        email: '',
      });
    }
    if (!user.emailVerified && emailVerification === 'required') {
      await audit.record({
        ...event,
        actorId: user.id,
        subject: user.id,
        outcome: 'failure',
        details: { ...event.details, reason: 'email_unverified' },
      });
      return refuse(ctx, { status: 403, error: { key: 'login.unverified', unverified: true }, email: user.email });
    }
    await audit.record({ ...event, actorId: user.id, subject: user.id, outcome: 'success' });
    await secondFactor.finish(ctx, user.id, [checked.method, ...(checked.userVerified ? (['user'] as const) : []), 'mfa']);
  };

  return { show: showPage, submit, passkey };
}

/** What a refused login leaves for the page it redirects to: the status, the words, what was typed (never the password). */
interface LoginRefusal {
  status: 401 | 403 | 429;
  error: { key: string; values?: Record<string, unknown>; unverified?: boolean };
  email: string;
  retryAfterSeconds?: number;
}

/** A login_hint to fill the email field with: text no longer than an email may be. */
function loginHint(hint: unknown): string | undefined {
  return typeof hint === 'string' && hint.length <= MAX_EMAIL_LENGTH ? hint.trim() : undefined;
}
