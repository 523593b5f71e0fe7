// The second step of a sign-in: after the password, when this sign-in needs a second factor
// (src/oidc/authentication.ts), the person proves one (a code from their authenticator app, a
// passkey, or a recovery code); a person who must and has none adds one here first, and then
// sees their recovery codes once. A person already signed in whom an app asks for a second
// factor (step-up) comes straight here, without the password again. Passwordless sign-in with a
// passkey (the login page's button and the browser's passkey autofill) ends here too.
//
// Between the steps the sign-in is "pending": who passed the password, and how, kept in the
// oidc-provider interaction itself (sealed at rest, shared by every instance, gone with the
// interaction), so the person can finish on another instance. Only when the second factor is
// right does the interaction finish with the methods of both (amr) and their class (acr).
// Codes are counted with the login limits, as the password was: a right password clears
// nothing until the second factor is right too (firstFactorPassed, src/limits/logins.ts).
import type { RouterContext, RouterMiddleware } from '@koa/router';
import type { InteractionResults } from 'oidc-provider';
import type { AuthenticationMethod, CeremonyBinding, FactorSummary } from '../factors/index.ts';
import { acrOf, STEP_UP_REASON, withSecondFactor } from '../oidc/index.ts';
import { clientName } from './apps.ts';
import { csrfToken } from './csrf.ts';
import { createFlash } from './flash.ts';
import { linkPendingIdentity } from './federationState.ts';
import { formText } from './form.ts';
import { html, requestLanguage } from './respond.ts';
import type { InteractionState, PageDependencies } from './state.ts';

type Context = RouterContext<InteractionState>;

/** A sign-in past its first factor, waiting for the second (or, `done`, for the person to read their recovery codes). */
export interface PendingSignIn {
  accountId: string;
  amr: AuthenticationMethod[];
  /** The second factor is proven (a factor was just added): only the recovery codes page is left. */
  done?: boolean;
}

/** What a refused step leaves for its page: the status and the words (a catalogue key). */
interface StepRefusal {
  status: 400 | 401 | 403 | 429;
  error: { key: string; values?: Record<string, unknown> };
  field: string;
  retryAfterSeconds?: number;
}

/** What the page after adding a first factor shows once: the recovery codes. */
interface CodesShown {
  recoveryCodes: string[];
}

/** The longest answer a browser gives to navigator.credentials (a passkey's attestation is a few kB). */
const MAX_RESPONSE_LENGTH = 12_000;

export function createSecondFactorSteps(dependencies: PageDependencies) {
  const { provider, views, users, factors, limits, audit, csrfKey, flashReads, issuer, mfa } = dependencies;
  const flashes = createFlash({ key: csrfKey, reads: flashReads, secure: issuer.startsWith('https:') });
  const pagePath = (uid: string) => `/interaction/${uid}`;
  const binding = (ctx: Context): CeremonyBinding => ({ kind: 'interaction', uid: ctx.state.interaction.uid });

  /** The pending sign-in: one a password started, or a step-up of the browser's signed-in session. */
  function pendingOf(ctx: Context): PendingSignIn | undefined {
    const { interaction } = ctx.state;
    const stored = (interaction.result as { portcullis?: PendingSignIn } | undefined)?.portcullis;
    if (stored) return stored;
    const { reasons } = interaction.prompt;
    const accountId = interaction.session?.accountId;
    // Only the second factor is missing: the session's own sign-in stands for the first.
    if (accountId && reasons.length > 0 && reasons.every((reason) => reason === STEP_UP_REASON)) {
      const amr = (interaction.session?.amr as AuthenticationMethod[] | undefined) ?? ['pwd'];
      return { accountId, amr: amr.filter((method) => method !== 'mfa') };
    }
    return undefined;
  }

  async function keep(ctx: Context, pending: PendingSignIn): Promise<void> {
    const { interaction } = ctx.state;
    interaction.result = { ...(interaction.result ?? {}), portcullis: pending } as InteractionResults;
    await interaction.persist();
  }

  function redirectToPage(ctx: Context): void {
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(pagePath(ctx.state.interaction.uid));
  }

  function refuse(ctx: Context, refusal: StepRefusal): void {
    flashes.set(ctx, ctx.state.interaction.uid, refusal, pagePath(ctx.state.interaction.uid));
    redirectToPage(ctx);
  }

  const event = (ctx: Context, accountId: string) => ({
    type: 'login.second_factor',
    actorType: 'user' as const,
    actorId: accountId,
    subject: accountId,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 300),
  });

  /** Ends the sign-in: the interaction finishes with how the person signed in. */
  async function finish(ctx: Context, accountId: string, amr: AuthenticationMethod[]): Promise<void> {
    // The person proved they own this account: an upstream identity waiting for that is linked.
    await linkPendingIdentity(dependencies, ctx, accountId);
    const result: InteractionResults = { login: { accountId, amr, acr: acrOf(amr), ts: Math.floor(Date.now() / 1000) } };
    await provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    // oidc-provider has answered (a redirect back to the authorization endpoint).
    ctx.respond = false;
  }

  /** Starts the second step after a right password: the page asks for the second factor next. */
  async function begin(ctx: Context, pending: PendingSignIn): Promise<void> {
    await keep(ctx, pending);
    redirectToPage(ctx);
  }

  /** The step's page: the second factor, adding one, or the recovery codes. Undefined when no step is pending (the login page then). */
  async function show(ctx: Context): Promise<boolean> {
    const pending = pendingOf(ctx);
    if (!pending) return false;
    const { uid, params } = ctx.state.interaction;
    const lang = requestLanguage(ctx, params.ui_locales);
    const t = views.catalogue.translator(lang);
    const common = { uid, lang, csrf: csrfToken(csrfKey, 'interaction', uid), clientName: await clientName(provider(), params.client_id) };
    if (pending.done) {
      const shown = await flashes.take<CodesShown>(ctx, uid, pagePath(uid));
      html(ctx, 200, views.render('login-recovery-codes', { ...common, recoveryCodes: shown?.recoveryCodes ?? [] }));
      return true;
    }
    const refusal = await flashes.take<StepRefusal>(ctx, uid, pagePath(uid));
    if (refusal?.retryAfterSeconds) ctx.set('Retry-After', String(refusal.retryAfterSeconds));
    const status = refusal?.status ?? 200;
    const error = refusal ? { text: t(refusal.error.key, refusal.error.values ?? {}), field: refusal.field } : undefined;
    const summary: FactorSummary = await factors.summary(pending.accountId);
    const user = await users.findById(pending.accountId);
    if (!user) {
      html(ctx, 400, views.render('error', { lang, key: 'errors.login_required', code: 'login_required' }));
      return true;
    }
    if (summary.totp || summary.passkeys.length > 0) {
      html(
        ctx,
        status,
        views.render('login-second-factor', {
          ...common,
          error,
          totp: Boolean(summary.totp),
          passkeyOptions:
            summary.passkeys.length > 0
              ? JSON.stringify(await factors.passkeys.authenticationOptions(binding(ctx), pending.accountId))
              : undefined,
          recoveryCodes: summary.recoveryCodesLeft > 0,
        }),
      );
      return true;
    }
    // No factor yet: add one now (an app, with its QR code, or a passkey).
    const enrolment =
      (await factors.totp.pending(pending.accountId, user.email)) ?? (await factors.totp.begin(pending.accountId, user.email));
    html(
      ctx,
      status,
      views.render('login-enrol', {
        ...common,
        error,
        enrolment,
        secretGroups: enrolment.secret.match(/.{1,4}/g) ?? [],
        registrationOptions: JSON.stringify(
          await factors.passkeys.registrationOptions({ id: user.id, email: user.email, name: user.name ?? null }, binding(ctx)),
        ),
      }),
    );
    return true;
  }

  /** The pending sign-in a step's POST acts on, or a redirect to the page when there is none (and undefined). */
  function pendingForPost(ctx: Context): PendingSignIn | undefined {
    const pending = pendingOf(ctx);
    if (!pending || pending.done) redirectToPage(ctx);
    return pending && !pending.done ? pending : undefined;
  }

  /** A typed code (an app's or a recovery code), counted with the login limits. */
  async function codeStep(
    ctx: Context,
    kind: 'totp' | 'recovery_code',
    check: (pending: PendingSignIn, code: string) => Promise<'ok' | 'wrong' | 'replayed' | 'malformed' | 'none'>,
  ): Promise<void> {
    const pending = pendingForPost(ctx);
    if (!pending) return;
    const field = kind === 'totp' ? 'code' : 'recovery-code';
    const user = await users.findById(pending.accountId);
    if (!user || user.disabled) return refuse(ctx, { status: 401, error: { key: 'login.second_factor.wrong_code' }, field });
    const attempt = await limits.beginLogin(user.email, ctx.ip);
    if (!attempt.allowed) {
      const wait = attempt.retryAfterSeconds;
      return refuse(ctx, {
        status: 429,
        error: { key: 'login.too_many', values: { count: Math.ceil(wait / 60) } },
        field,
        retryAfterSeconds: wait,
      });
    }
    const outcome = await check(pending, formText(ctx, kind === 'totp' ? 'code' : 'recovery_code').slice(0, 100));
    if (outcome === 'ok') {
      await attempt.succeeded();
      await audit.record({ ...event(ctx, pending.accountId), outcome: 'success', details: { method: kind } });
      return finish(ctx, pending.accountId, withSecondFactor(pending.amr, ['otp']));
    }
    // A code of the wrong shape is no guess: the attempt is given back (the count stays as it was).
    if (outcome === 'malformed') await attempt.firstFactorPassed();
    await audit.record({ ...event(ctx, pending.accountId), outcome: 'failure', details: { method: kind, reason: outcome } });
    const key =
      outcome === 'malformed'
        ? kind === 'totp'
          ? 'login.second_factor.malformed_code'
          : 'login.second_factor.malformed_recovery_code'
        : 'login.second_factor.wrong_code';
    refuse(ctx, { status: outcome === 'malformed' ? 400 : 401, error: { key }, field });
  }

  const submitTotp: RouterMiddleware<InteractionState> = (ctx) =>
    codeStep(ctx, 'totp', (pending, code) => factors.totp.verify(pending.accountId, code));

  const submitRecoveryCode: RouterMiddleware<InteractionState> = (ctx) =>
    codeStep(ctx, 'recovery_code', (pending, code) =>
      factors.recoveryCodes.use(pending.accountId, code, {
        ip: ctx.ip,
        language: requestLanguage(ctx, ctx.state.interaction.params.ui_locales),
      }),
    );

  /** A passkey as the second factor: only the pending person's own passkeys count. */
  const submitPasskey: RouterMiddleware<InteractionState> = async function submitPasskey(ctx) {
    const pending = pendingForPost(ctx);
    if (!pending) return;
    const checked = await factors.passkeys.authenticate(
      formText(ctx, 'response').slice(0, MAX_RESPONSE_LENGTH),
      binding(ctx),
      pending.accountId,
    );
    if (!checked.ok) {
      await audit.record({ ...event(ctx, pending.accountId), outcome: 'failure', details: { method: 'passkey', reason: checked.problem } });
      return refuse(ctx, { status: 401, error: { key: `login.passkey.problems.${checked.problem}` }, field: 'passkey' });
    }
    await audit.record({ ...event(ctx, pending.accountId), outcome: 'success', details: { method: 'passkey' } });
    await finish(
      ctx,
      pending.accountId,
      withSecondFactor(pending.amr, [checked.method, ...(checked.userVerified ? (['user'] as const) : [])]),
    );
  };

  /** Adding an authenticator app in the sign-in, confirmed with its first code. */
  const enrolTotp: RouterMiddleware<InteractionState> = async function enrolTotp(ctx) {
    const pending = pendingForPost(ctx);
    if (!pending) return;
    const user = await users.findById(pending.accountId);
    if (!user || user.disabled) return refuse(ctx, { status: 401, error: { key: 'login.second_factor.wrong_code' }, field: 'code' });
    const attempt = await limits.beginLogin(user.email, ctx.ip);
    if (!attempt.allowed) {
      const wait = attempt.retryAfterSeconds;
      return refuse(ctx, {
        status: 429,
        error: { key: 'login.too_many', values: { count: Math.ceil(wait / 60) } },
        field: 'code',
        retryAfterSeconds: wait,
      });
    }
    const enrolled = await factors.totp.confirm(pending.accountId, formText(ctx, 'code').slice(0, 100), {
      type: 'user',
      id: pending.accountId,
      ip: ctx.ip,
    });
    if (!enrolled.ok) {
      if (enrolled.problem === 'malformed') await attempt.firstFactorPassed();
      return refuse(ctx, {
        status: enrolled.problem === 'malformed' ? 400 : 401,
        error: { key: enrolled.problem === 'malformed' ? 'login.second_factor.malformed_code' : 'login.second_factor.wrong_code' },
        field: 'code',
      });
    }
    await attempt.succeeded();
    await added(ctx, pending, enrolled.method, enrolled.recoveryCodes);
  };

  /** Adding a passkey in the sign-in. */
  const enrolPasskey: RouterMiddleware<InteractionState> = async function enrolPasskey(ctx) {
    const pending = pendingForPost(ctx);
    if (!pending) return;
    const enrolled = await factors.passkeys.register(
      pending.accountId,
      formText(ctx, 'response').slice(0, MAX_RESPONSE_LENGTH),
      formText(ctx, 'name').slice(0, 200),
      binding(ctx),
      { type: 'user', id: pending.accountId, ip: ctx.ip },
    );
    if (!enrolled.ok) {
      await audit.record({
        ...event(ctx, pending.accountId),
        outcome: 'failure',
        details: { method: 'passkey', reason: enrolled.problem },
      });
      return refuse(ctx, { status: 400, error: { key: `login.passkey.problems.${enrolled.problem}` }, field: 'passkey' });
    }
    await added(ctx, pending, enrolled.method, enrolled.recoveryCodes);
  };

  /** A first factor was just added: the sign-in has both, and the recovery codes are shown once before it goes on. */
  async function added(ctx: Context, pending: PendingSignIn, method: 'otp' | 'hwk' | 'swk', recoveryCodes?: string[]): Promise<void> {
    await audit.record({
      ...event(ctx, pending.accountId),
      outcome: 'success',
      details: { method: method === 'otp' ? 'totp' : 'passkey', enrolled: true },
    });
    const amr = withSecondFactor(pending.amr, [method]);
    if (!recoveryCodes?.length) return finish(ctx, pending.accountId, amr);
    await keep(ctx, { accountId: pending.accountId, amr, done: true });
    flashes.set(ctx, ctx.state.interaction.uid, { recoveryCodes } satisfies CodesShown, pagePath(ctx.state.interaction.uid));
    redirectToPage(ctx);
  }

  /** After the recovery codes: the sign-in goes on to the app. */
  const proceed: RouterMiddleware<InteractionState> = async function proceed(ctx) {
    const pending = pendingOf(ctx);
    if (!pending?.done) return redirectToPage(ctx);
    await finish(ctx, pending.accountId, pending.amr);
  };

  return { pendingOf, begin, show, finish, submitTotp, submitRecoveryCode, submitPasskey, enrolTotp, enrolPasskey, proceed, mfa };
}

export type SecondFactorSteps = ReturnType<typeof createSecondFactorSteps>;
