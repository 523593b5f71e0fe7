// The account page's "Sign-in security": a person's own second factors (src/factors). Setting
// up an authenticator app (its QR code and secret, confirmed with a first code), recovery codes
// (shown once when the first factor is added and whenever new ones are made), passkeys (added
// with the browser's WebAuthn, views/assets/passkeys.js) and removing each. Every change needs
// sudo mode (a recent sign-in or the password again, accountSteps.ts): whoever finds a session
// left open must not be able to swap the factors for their own, nor read new recovery codes.
// A wrong code counts against the login limits, so the setup page is no way to probe an app.
// Every POST answers 303 to a GET page; what it made (recovery codes) is shown once, through the
// flash; removals are confirmed on a page of their own. With MFA=off none of it exists (404).
import type { RouterMiddleware } from '@koa/router';
import type { EnrolProblem, FactorSummary } from '../factors/index.ts';
import { createAccountSteps, pageLanguage, type AccountContext } from './accountSteps.ts';
import { csrfToken } from './csrf.ts';
import type { Flash } from './flash.ts';
import { formText } from './form.ts';
import { errorPage, html } from './respond.ts';
import type { PageDependencies, SessionState } from './state.ts';

const ACCOUNT = '/account';
const TOTP = '/account/security/totp';
const TOTP_REMOVE = '/account/security/totp/remove';
const CODES = '/account/security/recovery-codes';
const CODES_NEW = '/account/security/recovery-codes/new';
const PASSKEY_NEW = '/account/security/passkeys/new';

/** What only these pages leave in the flash: new recovery codes, to be shown once. */
type SecurityFlash = Flash & { recoveryCodes?: string[] };

/** A TOTP code as people type it: six digits, maybe with a space or dash in the middle. */
const CODE_SHAPE = /^\d{6}$/;
const codeOf = (typed: string) => typed.replace(/[\s-]/g, '');

/** The base32 secret in groups of four, to read and type by hand. */
export const secretGroups = (secret: string): string[] => secret.match(/.{1,4}/g) ?? [];

/** What the account page shows of a person's factors, or undefined when MFA is off (no section). */
export interface SecuritySection {
  required: boolean;
  totp: FactorSummary['totp'];
  passkeys: FactorSummary['passkeys'];
  recoveryCodesLeft: number;
  hasFactor: boolean;
}

export function createSecurityPage(dependencies: PageDependencies) {
  const { views, users, factors, limits, csrfKey, mfa } = dependencies;
  const steps = createAccountSteps(dependencies);
  const csrfOf = (ctx: AccountContext) => csrfToken(csrfKey, 'account', ctx.state.session.uid);
  const t = (ctx: AccountContext) => views.catalogue.translator(pageLanguage(ctx));
  const binding = (ctx: AccountContext) => ({ kind: 'session' as const, uid: ctx.state.session.uid });

  /** The account page's section; nothing when MFA is off. */
  async function section(userId: string, mfaRequired: boolean): Promise<SecuritySection | undefined> {
    if (mfa === 'off') return undefined;
    const summary = await factors.summary(userId);
    return {
      required: mfa === 'required' || mfaRequired,
      ...summary,
      hasFactor: Boolean(summary.totp) || summary.passkeys.length > 0,
    };
  }

  /** MFA=off: these pages do not exist. The person, or the account-gone page. */
  async function userOf(ctx: AccountContext) {
    if (mfa === 'off') {
      errorPage(ctx, views, 404, { message: t(ctx)('security.not_offered'), code: 'not_found' });
      return undefined;
    }
    const user = await users.findById(ctx.state.session.accountId);
    if (!user) errorPage(ctx, views, 404, { message: t(ctx)('account.gone'), code: 'not_found' });
    return user ?? undefined;
  }

  /**
   * Whether removing one factor would leave a person who must have one (MFA=required, or an
   * administrator's mfa_required) with none: then the last one stays until another is added.
   */
  async function wouldLeaveNone(userId: string, mfaRequired: boolean, removing: 'totp' | 'passkey'): Promise<boolean> {
    if (mfa !== 'required' && !mfaRequired) return false;
    const summary = await factors.summary(userId);
    const left = removing === 'totp' ? summary.passkeys.length : (summary.totp ? 1 : 0) + summary.passkeys.length - 1;
    return left < 1;
  }

  /** After a first factor: its recovery codes (once), else the account page with `notice`. */
  function afterEnrolment(ctx: AccountContext, recoveryCodes: string[] | undefined, notice: string) {
    if (recoveryCodes?.length) {
      const shown: SecurityFlash = { recoveryCodes, notice: { key: notice } };
      return steps.redirect(ctx, CODES, shown);
    }
    steps.redirect(ctx, ACCOUNT, { notice: { key: notice } });
  }

  /** The catalogue key of a refused enrolment. */
  const problemKey = (problem: EnrolProblem) => `security.problems.${problem}`;

  /** A confirmation page (views/confirm.eta) with the password when sudo mode needs it. */
  async function confirmPage(
    ctx: AccountContext,
    page: { title: string; text: string; action: string; button: string; values?: Record<string, string>; danger?: boolean },
  ) {
    html(
      ctx,
      200,
      views.render('confirm', {
        lang: pageLanguage(ctx),
        ...page,
        values: page.values ?? {},
        password: !steps.recentSignIn(ctx),
        back: ACCOUNT,
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
      }),
    );
  }

  // The authenticator app.

  /** The setup page: the pending secret (made on the first visit, kept on a reload) as a QR code and as text. */
  const showTotp: RouterMiddleware<SessionState> = async function showTotpSetup(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    if ((await factors.summary(user.id)).totp) return steps.redirect(ctx, ACCOUNT, { notice: { key: 'security.totp.already' } });
    const enrolment = (await factors.totp.pending(user.id, user.email)) ?? (await factors.totp.begin(user.id, user.email));
    html(
      ctx,
      200,
      views.render('account-totp', {
        lang: pageLanguage(ctx),
        // Drawn by the factors service from the otpauth URI (src/factors/totp.ts checks it has
        // no script, style or event attribute); the template embeds it unescaped for that reason only.
        qrSvg: enrolment.qrSvg,
        secretGroups: secretGroups(enrolment.secret),
        needsPassword: !steps.recentSignIn(ctx),
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
      }),
    );
  };

  const confirmTotp: RouterMiddleware<SessionState> = async function confirmTotp(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'totp-password', back: TOTP, purpose: 'set_up_totp' }))) return;
    const code = codeOf(formText(ctx, 'code'));
    // A code that cannot be one is not a guess: it is not counted.
    if (!CODE_SHAPE.test(code)) return steps.redirect(ctx, TOTP, { error: { key: 'security.problems.malformed', field: 'code' } });
    const attempt = await limits.beginLogin(user.email, ctx.ip);
    if (!attempt.allowed) {
      ctx.set('Retry-After', String(attempt.retryAfterSeconds));
      return steps.redirect(ctx, TOTP, {
        error: { key: 'account.too_many', values: { minutes: Math.ceil(attempt.retryAfterSeconds / 60) }, field: 'code' },
      });
    }
    const enrolled = await factors.totp.confirm(user.id, code, ctx.state.actor);
    if (!enrolled.ok) {
      if (enrolled.problem === 'already_enrolled') return steps.redirect(ctx, ACCOUNT, { notice: { key: 'security.totp.already' } });
      return steps.redirect(ctx, TOTP, { error: { key: problemKey(enrolled.problem), field: 'code' } });
    }
    await attempt.succeeded();
    afterEnrolment(ctx, enrolled.recoveryCodes, 'security.totp.added');
  };

  const confirmRemoveTotp: RouterMiddleware<SessionState> = async function confirmRemoveTotp(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    if (!(await factors.summary(user.id)).totp) return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.totp.none' } });
    await confirmPage(ctx, {
      title: 'security.totp.remove_title',
      text: 'security.totp.remove_text',
      action: TOTP_REMOVE,
      button: 'security.totp.remove_button',
    });
  };

  const removeTotp: RouterMiddleware<SessionState> = async function removeTotp(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back: TOTP_REMOVE, purpose: 'remove_totp' }))) return;
    if (await wouldLeaveNone(user.id, user.mfaRequired, 'totp'))
      return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.last_factor' } });
    const removed = await factors.totp.remove(user.id, ctx.state.actor);
    steps.redirect(ctx, ACCOUNT, removed ? { notice: { key: 'security.totp.removed' } } : { error: { key: 'security.totp.none' } });
  };

  // Recovery codes.

  /** The codes just made, once; a reload (or a visit of its own) shows that they were shown before. */
  const showCodes: RouterMiddleware<SessionState> = async function showRecoveryCodes(ctx) {
    if (!(await userOf(ctx))) return;
    const flash = (await steps.takeFlash(ctx)) as SecurityFlash;
    html(
      ctx,
      200,
      views.render('account-recovery-codes', {
        lang: pageLanguage(ctx),
        recoveryCodes: flash.recoveryCodes ?? [],
        flash: { ...(flash.notice ? { notice: flash.notice } : {}) },
      }),
    );
  };

  const confirmNewCodes: RouterMiddleware<SessionState> = async function confirmNewCodes(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    const summary = await factors.summary(user.id);
    if (!summary.totp && summary.passkeys.length === 0)
      return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.codes.need_factor' } });
    await confirmPage(ctx, {
      title: 'security.codes.new_title',
      text: 'security.codes.new_text',
      action: CODES_NEW,
      button: 'security.codes.new_button',
      danger: false,
    });
  };

  const newCodes: RouterMiddleware<SessionState> = async function newRecoveryCodes(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back: CODES_NEW, purpose: 'new_recovery_codes' }))) return;
    // Recovery codes stand in for a factor; with none to stand in for they would be a way around it.
    if (!(await factors.hasSecondFactor(user.id))) return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.codes.need_factor' } });
    const recoveryCodes = await factors.recoveryCodes.regenerate(user.id, ctx.state.actor);
    const shown: SecurityFlash = { recoveryCodes, notice: { key: 'security.codes.made' } };
    steps.redirect(ctx, CODES, shown);
  };

  // Passkeys.

  /** The add page: a name, and the browser's registration options (made now, bound to this session). */
  const showAddPasskey: RouterMiddleware<SessionState> = async function showAddPasskey(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    const options = await factors.passkeys.registrationOptions({ id: user.id, email: user.email, name: user.name }, binding(ctx));
    const words = t(ctx);
    html(
      ctx,
      200,
      views.render('account-passkey', {
        lang: pageLanguage(ctx),
        // JSON in a <script type="application/json">: `<` escaped so no value can close the element.
        options: JSON.stringify(options).replace(/</g, '\\u003c'),
        errors: {
          cancelled: words('security.passkeys.cancelled'),
          failed: words('security.passkeys.failed'),
          registered: words('security.passkeys.registered'),
        },
        needsPassword: !steps.recentSignIn(ctx),
        csrf: csrfOf(ctx),
        flash: await steps.takeFlash(ctx),
      }),
    );
  };

  const addPasskey: RouterMiddleware<SessionState> = async function addPasskey(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    const name = formText(ctx, 'name').slice(0, 200);
    const values = { name };
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'passkey-password', back: PASSKEY_NEW, purpose: 'add_passkey', values }))) return;
    const registered = await factors.passkeys.register(user.id, formText(ctx, 'response'), name, binding(ctx), ctx.state.actor);
    if (!registered.ok) {
      return steps.redirect(ctx, PASSKEY_NEW, {
        error: { key: problemKey(registered.problem), ...(registered.problem === 'name' ? { field: 'passkey-name' } : {}) },
        values,
      });
    }
    afterEnrolment(ctx, registered.recoveryCodes, 'security.passkeys.added');
  };

  /** The person's own passkey named in the path, or undefined (anyone else's is not found). */
  const ownPasskey = async (ctx: AccountContext, userId: string) =>
    (await factors.passkeys.list(userId)).find((passkey) => passkey.id === ctx.params.id);

  const confirmRemovePasskey: RouterMiddleware<SessionState> = async function confirmRemovePasskey(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    const passkey = await ownPasskey(ctx, user.id);
    if (!passkey) return errorPage(ctx, views, 404, { message: t(ctx)('security.passkeys.not_found'), code: 'not_found' });
    await confirmPage(ctx, {
      title: 'security.passkeys.remove_title',
      text: 'security.passkeys.remove_text',
      values: { name: passkey.name },
      action: `/account/security/passkeys/${encodeURIComponent(passkey.id)}/remove`,
      button: 'security.passkeys.remove_button',
    });
  };

  const removePasskey: RouterMiddleware<SessionState> = async function removePasskey(ctx) {
    const user = await userOf(ctx);
    if (!user) return;
    const back = `/account/security/passkeys/${encodeURIComponent(ctx.params.id!)}/remove`;
    if (!(await steps.confirmRecentSignIn(ctx, { field: 'password', back, purpose: 'remove_passkey' }))) return;
    const passkey = await ownPasskey(ctx, user.id);
    if (!passkey) return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.passkeys.not_found' } });
    if (await wouldLeaveNone(user.id, user.mfaRequired, 'passkey'))
      return steps.redirect(ctx, ACCOUNT, { error: { key: 'security.last_factor' } });
    const removed = await factors.passkeys.remove(user.id, passkey.id, ctx.state.actor);
    steps.redirect(
      ctx,
      ACCOUNT,
      removed
        ? { notice: { key: 'security.passkeys.removed', values: { name: passkey.name } } }
        : { error: { key: 'security.passkeys.not_found' } },
    );
  };

  return {
    section,
    showTotp,
    confirmTotp,
    confirmRemoveTotp,
    removeTotp,
    showCodes,
    confirmNewCodes,
    newCodes,
    showAddPasskey,
    addPasskey,
    confirmRemovePasskey,
    removePasskey,
  };
}
