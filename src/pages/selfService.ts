// The pages for people who are not signed in: sign-up, email verification (a link or a code),
// forgotten passwords, invitations. Each POST answers 303 to a GET page (post/redirect/get), so a
// reload never sends a form twice; what a redirected page must show once (a form's problem,
// what was typed) travels in the pages' short-lived, single-read flash (flash.ts). Every
// form carries a CSRF token bound to a random cookie of this browser, as these pages have no
// sign-in or session to bind it to. What a page says never depends on whether an address has
// an account (src/accounts/selfService.ts answers the same either way).
//
// A page opened from a sign-in (`?interaction=UID`) remembers the sign-in to go back to, and
// its language (the ui_locales the application asked for), in one cookie: the pages and their
// mails are then in the language the sign-in page was, whatever the browser prefers.
//
// A link from a mail is never used by its GET: mail scanners and link previews fetch links, and
// would spend a single-use token. The GET shows a page with a button (or the password form),
// and the POST uses the link.
import crypto from 'node:crypto';
import Router, { type RouterMiddleware } from '@koa/router';
import type Koa from 'koa';
import type { FormProblem, LinkOutcome, MailOutcome } from '../accounts/index.ts';
import { MAX_EMAIL_LENGTH } from '../users/index.ts';
import { checkCsrf, csrfToken } from './csrf.ts';
import { negotiateLanguage } from '../i18n/index.ts';
import { createFlash } from './flash.ts';
import { formText } from './form.ts';
import { errorPage, html, requestLanguage } from './respond.ts';
import type { PageDependencies } from './state.ts';

/** What a self-service page knows: this browser's random CSRF cookie, and what a flash carried to it. */
export interface BrowserState {
  browser: string;
  flash: Flash;
  /** The language of the sign-in that sent the person here, when one did. */
  signInLanguage?: string;
}

/** What a POST leaves for the page it redirects to. */
interface Flash {
  problem?: string;
  email?: string;
  name?: string;
  minutes?: number;
}

const BROWSER_COOKIE = 'portcullis.browser';
/** Where a sign-in that sent the person here is waiting (`UID` or `UID.LANG`: its interaction uid and language). */
const CONTINUE_COOKIE = 'portcullis.continue';
const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/;
const CONTINUE_VALUE = /^([A-Za-z0-9_-]{1,64})(?:\.([a-z]{2}))?$/;

type Ctx = Koa.ParameterizedContext<BrowserState> & { params?: Record<string, string> };

/**
 * The steps of router.ts's SharedSteps these routes use (named here rather than imported, so
 * the router and its route modules form no import cycle).
 */
interface Steps {
  errors: Koa.Middleware;
  forms: Koa.Middleware;
}

export function createSelfServiceRoutes(dependencies: PageDependencies, { errors, forms }: Steps): Router {
  const { views, csrfKey, selfService, signup, mailDeliverable, issuer, flashReads, provider } = dependencies;
  const secure = issuer.startsWith('https:');
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure, path: '/', signed: false, overwrite: true };
  const flashes = createFlash({ key: csrfKey, reads: flashReads, secure });

  /** Gives this browser its random CSRF cookie, and reads (and clears) a flash meant for this page. */
  const browser: Koa.Middleware<BrowserState> = async function browser(ctx, next) {
    let value = ctx.cookies.get(BROWSER_COOKIE);
    if (!value || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
      // A POST without the cookie has no form of ours behind it: the CSRF check refuses it.
      value = ctx.method === 'GET' ? crypto.randomBytes(32).toString('base64url') : '';
      if (value) ctx.cookies.set(BROWSER_COOKIE, value, cookieOptions);
    }
    ctx.state.browser = value;
    // Only a page's GET shows a flash, and only the page it was left for.
    ctx.state.flash = (value && ctx.method === 'GET' ? await flashes.take<Flash>(ctx, value, ctx.path) : undefined) ?? {};
    await next();
  };
  // Bound to the browser cookie; with none (value ''), no token can match one we issued.
  const csrf = checkCsrf<BrowserState>(dependencies, 'self-service', ({ browser: value }) => value || crypto.randomUUID());

  /** 303 to `location`, leaving `flash` for it when given. */
  function redirect(ctx: Ctx, location: string, flash?: Flash): void {
    if (flash) flashes.set(ctx, ctx.state.browser, flash, location.split('?')[0]!);
    ctx.status = 303;
    ctx.redirect(location);
  }

  /** The page's language: the sign-in's that sent the person here, else the browser's. */
  const language = (ctx: Ctx) => requestLanguage(ctx, ctx.state.signInLanguage ?? continued(ctx)?.lang);

  function page(ctx: Ctx, status: number, name: string, data: Record<string, unknown> = {}): void {
    html(
      ctx,
      status,
      views.render(name, {
        lang: language(ctx),
        // A form's own random value: the same again is a retry of one submission (Visitor.attempt).
        attempt: crypto.randomBytes(18).toString('base64url'),
        csrf: csrfToken(csrfKey, 'self-service', ctx.state.browser),
        flash: ctx.state.flash,
        problemKey: ctx.state.flash.problem ? problemKey(ctx.state.flash.problem) : undefined,
        signupOpen: signup === 'open',
        continueUid: continueUid(ctx),
        ...data,
      }),
    );
  }

  function continued(ctx: Ctx): { uid: string; lang?: string } | undefined {
    const match = CONTINUE_VALUE.exec(ctx.cookies.get(CONTINUE_COOKIE) ?? '');
    return match ? { uid: match[1]!, ...(match[2] ? { lang: match[2] } : {}) } : undefined;
  }
  const continueUid = (ctx: Ctx) => continued(ctx)?.uid;

  /**
   * A page opened from a sign-in (`?interaction=UID`) remembers where to go back to, and the
   * language of that sign-in when its application asked for one (ui_locales).
   */
  async function rememberSignIn(ctx: Ctx): Promise<void> {
    const uid = ctx.query.interaction;
    if (typeof uid !== 'string' || !INTERACTION_UID.test(uid)) return;
    const interaction = await provider()
      .Interaction.find(uid)
      .catch(() => undefined);
    const uiLocales = interaction?.params.ui_locales;
    // The language the sign-in page was shown in (src/pages/login.ts negotiates the same way).
    const lang = typeof uiLocales === 'string' ? negotiateLanguage({ uiLocales, acceptLanguage: ctx.get('accept-language') }) : undefined;
    ctx.state.signInLanguage = lang;
    ctx.cookies.set(CONTINUE_COOKIE, lang ? `${uid}.${lang}` : uid, { ...cookieOptions, maxAge: 3600_000 });
  }

  const visitor = (ctx: Ctx) => {
    const attempt = formText(ctx, 'attempt').slice(0, 64);
    return { ip: ctx.ip, lang: language(ctx), userAgent: ctx.get('user-agent').slice(0, 300), ...(attempt ? { attempt } : {}) };
  };
  const email = (ctx: Ctx) => formText(ctx, 'email').slice(0, MAX_EMAIL_LENGTH);
  const tokenOf = (ctx: Ctx) => (typeof ctx.query.token === 'string' ? ctx.query.token : '');

  /** The answer of a request that may send mail: the "sent" page, or the form again with its problem. */
  function afterMail(ctx: Ctx, outcome: MailOutcome, form: string, sent: string, kept: Flash, sentFlash?: Flash): void {
    if (outcome.ok) return redirect(ctx, sent, sentFlash);
    if ('retryAfterSeconds' in outcome)
      return redirect(ctx, form, { ...kept, problem: 'limited', minutes: Math.ceil(outcome.retryAfterSeconds / 60) });
    redirect(ctx, form, { ...kept, problem: outcome.problem });
  }

  /** Sign-up, the sign-up links and invitations need mail to reach people, and sign-up needs SIGNUP=open. */
  const signupOpen: RouterMiddleware<BrowserState> = async function signupOpen(ctx, next) {
    if (signup !== 'open' || !mailDeliverable) return errorPage(ctx, views, 404, { code: 'signup_closed', key: 'signup.closed' });
    await next();
  };
  const mailWorks: RouterMiddleware<BrowserState> = async function mailWorks(ctx, next) {
    if (!mailDeliverable) return errorPage(ctx, views, 404, { code: 'mail_unavailable', key: 'reset.unavailable' });
    await next();
  };

  // --- Sign-up ---------------------------------------------------------------------------
  const showSignup: RouterMiddleware<BrowserState> = async function showSignup(ctx) {
    await rememberSignIn(ctx);
    page(ctx, 200, 'signup');
  };
  const submitSignup: RouterMiddleware<BrowserState> = async function submitSignup(ctx) {
    const typed = { email: email(ctx), name: formText(ctx, 'name').slice(0, 400) };
    const outcome = await selfService.signUp({ ...typed, password: formText(ctx, 'password') }, visitor(ctx));
    // The "check your mail" page offers the code form, filled with the address just typed.
    afterMail(ctx, outcome, '/signup', '/verify-email/sent', typed, { email: typed.email });
  };

  // --- Verification ----------------------------------------------------------------------
  const showSent: RouterMiddleware<BrowserState> = async function showSent(ctx) {
    page(ctx, 200, 'verify-sent');
  };
  const showVerifyLink: RouterMiddleware<BrowserState> = async function showVerifyLink(ctx) {
    const token = tokenOf(ctx);
    const checked = await selfService.checkVerification(token);
    if (!checked.ok) return linkProblem(ctx, 'verify-problem', checked);
    page(ctx, 200, 'verify-confirm', { token });
  };
  const submitVerifyLink: RouterMiddleware<BrowserState> = async function submitVerifyLink(ctx) {
    const token = formText(ctx, 'token');
    const outcome = await selfService.verifyByLink(token, visitor(ctx));
    if (outcome.ok) return redirect(ctx, '/verify-email/done');
    redirect(ctx, `/verify-email?token=${encodeURIComponent(token.slice(0, 100))}`);
  };
  const submitCode: RouterMiddleware<BrowserState> = async function submitCode(ctx) {
    const address = email(ctx);
    const outcome = await selfService.verifyByCode(address, formText(ctx, 'code').slice(0, 20), visitor(ctx));
    if (outcome.ok) return redirect(ctx, '/verify-email/done');
    if ('retryAfterSeconds' in outcome)
      return redirect(ctx, '/verify-email/sent', {
        email: address,
        problem: 'code_limited',
        minutes: Math.ceil(outcome.retryAfterSeconds / 60),
      });
    redirect(ctx, '/verify-email/sent', { email: address, problem: 'code_wrong' });
  };
  const showVerified: RouterMiddleware<BrowserState> = async function showVerified(ctx) {
    page(ctx, 200, 'verify-done');
  };
  const showResend: RouterMiddleware<BrowserState> = async function showResend(ctx) {
    await rememberSignIn(ctx);
    page(ctx, 200, 'verify-resend');
  };
  const submitResend: RouterMiddleware<BrowserState> = async function submitResend(ctx) {
    const address = email(ctx);
    const outcome = await selfService.resendVerification(address, visitor(ctx));
    afterMail(ctx, outcome, '/verify-email/resend', '/verify-email/sent', { email: address }, { email: address });
  };

  // --- Forgotten password ----------------------------------------------------------------
  const showForgot: RouterMiddleware<BrowserState> = async function showForgot(ctx) {
    await rememberSignIn(ctx);
    page(ctx, 200, 'forgot-password');
  };
  const submitForgot: RouterMiddleware<BrowserState> = async function submitForgot(ctx) {
    const address = email(ctx);
    const outcome = await selfService.requestPasswordReset(address, visitor(ctx));
    afterMail(ctx, outcome, '/forgot-password', '/forgot-password/sent', { email: address });
  };
  const showForgotSent: RouterMiddleware<BrowserState> = async function showForgotSent(ctx) {
    page(ctx, 200, 'forgot-sent');
  };
  const showReset: RouterMiddleware<BrowserState> = async function showReset(ctx) {
    const token = tokenOf(ctx);
    const checked = await selfService.checkPasswordReset(token);
    if (!checked.ok) return linkProblem(ctx, 'reset-problem', checked);
    page(ctx, 200, 'reset-password', { token, email: checked.email });
  };
  const submitReset: RouterMiddleware<BrowserState> = async function submitReset(ctx) {
    const token = formText(ctx, 'token').slice(0, 100);
    const outcome = await selfService.resetPassword(token, formText(ctx, 'password'), visitor(ctx));
    if (outcome.ok) return redirect(ctx, '/reset-password/done');
    redirect(ctx, `/reset-password?token=${encodeURIComponent(token)}`, 'problem' in outcome ? { problem: outcome.problem } : undefined);
  };
  const showResetDone: RouterMiddleware<BrowserState> = async function showResetDone(ctx) {
    page(ctx, 200, 'reset-done');
  };

  // --- Invitations -----------------------------------------------------------------------
  const showInvitation: RouterMiddleware<BrowserState> = async function showInvitation(ctx) {
    const token = tokenOf(ctx);
    const checked = await selfService.checkInvitation(token);
    if (!checked.ok) return linkProblem(ctx, 'invitation-problem', checked, { token });
    page(ctx, 200, 'invitation', { token, email: checked.email, name: ctx.state.flash.name ?? checked.name ?? '' });
  };
  const submitInvitation: RouterMiddleware<BrowserState> = async function submitInvitation(ctx) {
    const token = formText(ctx, 'token').slice(0, 100);
    const name = formText(ctx, 'name').slice(0, 400);
    const outcome = await selfService.acceptInvitation(token, { password: formText(ctx, 'password'), name }, visitor(ctx));
    if (outcome.ok) return redirect(ctx, '/invitation/done');
    redirect(ctx, `/invitation?token=${encodeURIComponent(token)}`, 'problem' in outcome ? { problem: outcome.problem, name } : undefined);
  };
  const renewInvitation: RouterMiddleware<BrowserState> = async function renewInvitation(ctx) {
    const token = formText(ctx, 'token').slice(0, 100);
    const outcome = await selfService.renewInvitation(token, visitor(ctx));
    if (!outcome.ok && 'retryAfterSeconds' in outcome) {
      return redirect(ctx, `/invitation?token=${encodeURIComponent(token)}`, {
        problem: 'limited',
        minutes: Math.ceil(outcome.retryAfterSeconds / 60),
      });
    }
    redirect(ctx, '/invitation/sent');
  };
  const showInvitationSent: RouterMiddleware<BrowserState> = async function showInvitationSent(ctx) {
    page(ctx, 200, 'invitation-sent');
  };
  const showInvitationDone: RouterMiddleware<BrowserState> = async function showInvitationDone(ctx) {
    page(ctx, 200, 'invitation-done');
  };

  /** An expired, used or unknown (tampered, foreign) link: a page saying which, never an error. */
  function linkProblem(ctx: Ctx, template: string, outcome: Exclude<LinkOutcome, { ok: true }>, data: Record<string, unknown> = {}): void {
    page(ctx, outcome.reason === 'unknown' ? 400 : 410, template, { reason: outcome.reason, ...data });
  }

  // Routes name no extra state (`<object, object>`), as in router.ts.
  const routes = new Router<BrowserState>();
  const get = (path: string, ...steps: RouterMiddleware<BrowserState>[]) => routes.get<object, object>(path, errors, browser, ...steps);
  const post = (path: string, ...steps: RouterMiddleware<BrowserState>[]) =>
    routes.post<object, object>(path, errors, browser, forms, csrf as RouterMiddleware<BrowserState>, ...steps);
  get('/signup', signupOpen, showSignup);
  post('/signup', signupOpen, submitSignup);
  get('/verify-email', showVerifyLink);
  post('/verify-email', submitVerifyLink);
  get('/verify-email/sent', showSent);
  post('/verify-email/code', submitCode);
  get('/verify-email/done', showVerified);
  get('/verify-email/resend', mailWorks, showResend);
  post('/verify-email/resend', mailWorks, submitResend);
  get('/forgot-password', mailWorks, showForgot);
  post('/forgot-password', mailWorks, submitForgot);
  get('/forgot-password/sent', showForgotSent);
  get('/reset-password', showReset);
  post('/reset-password', submitReset);
  get('/reset-password/done', showResetDone);
  get('/invitation', showInvitation);
  post('/invitation', submitInvitation);
  post('/invitation/renew', mailWorks, renewInvitation);
  get('/invitation/sent', showInvitationSent);
  get('/invitation/done', showInvitationDone);
  return routes as unknown as Router;
}

/** The catalogue key of a form's problem: the password rule's words are shared by every form. */
function problemKey(problem: FormProblem | 'limited' | 'code_wrong' | 'code_limited' | string): string {
  if (['too_short', 'too_long', 'common', 'email'].includes(problem)) return `passwords.${problem}`;
  if (['limited', 'code_wrong', 'code_limited'].includes(problem)) return `verify.${problem}`;
  return `signup.${problem}`;
}
