// The pages' one router: which URL runs which steps, and what each page knows of its visitor
// (typed state). The sign-in pages (login, consent) act on an oidc-provider interaction, found
// by the browser's interaction cookie; the account pages act on the browser's signed-in session.
// Every route starts with pageErrors and a loader, and every POST checks its form's CSRF token
// before the page acts.
import Router, { type RouterMiddleware } from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import { createAccountRoutes } from './accountRoutes.ts';
import { createConsentPage } from './consent.ts';
import { checkCsrf } from './csrf.ts';
import { pageErrors } from './errors.ts';
import { forms } from './form.ts';
import { createFederationSteps } from './federation.ts';
import { createLoginPage } from './login.ts';
import { errorPage, html, requestLanguage } from './respond.ts';
import { createSecondFactorSteps } from './secondFactor.ts';
import { createSelfServiceRoutes } from './selfService.ts';
import { createSignInPolicy } from './signInPolicy.ts';
import type { InteractionState, PageDependencies, SessionState, SignedInSession } from './state.ts';

type ProviderSession = Awaited<ReturnType<Provider['Session']['get']>>;

/** The steps every page module's routes are built from (router.ts makes them once). */
export interface SharedSteps {
  errors: Koa.Middleware;
  forms: Koa.Middleware;
  loadInteraction: RouterMiddleware<InteractionState>;
  interactionCsrf: Koa.Middleware<InteractionState>;
  loadSession: RouterMiddleware<SessionState>;
  accountCsrf: Koa.Middleware<SessionState>;
}

const signedIn = (session: ProviderSession): session is SignedInSession => Boolean(session.accountId);

export function createInteractionRoutes(dependencies: PageDependencies): Koa.Middleware {
  const { provider, views } = dependencies;
  const secondFactor = createSecondFactorSteps(dependencies);
  const policy = createSignInPolicy(dependencies);
  const federation = createFederationSteps(dependencies, secondFactor, policy);
  const login = createLoginPage(dependencies, secondFactor, federation, policy);
  const consent = createConsentPage(dependencies);
  const errors = pageErrors(views);
  const interactionCsrf = checkCsrf<InteractionState>(dependencies, 'interaction', ({ interaction }) => interaction.uid);
  const accountCsrf = checkCsrf<SessionState>(dependencies, 'account', ({ session }) => session.uid);

  const loadInteraction: RouterMiddleware<InteractionState> = async function loadInteraction(ctx, next) {
    ctx.state.interaction = await provider().interactionDetails(ctx.req, ctx.res);
    // The uid in the path must be the interaction this browser's cookie belongs to.
    if (ctx.state.interaction.uid !== ctx.params.uid) ctx.throw(400, 'this page belongs to another sign-in');
    await next();
  };

  const loadSession: RouterMiddleware<SessionState> = async function loadSession(ctx, next) {
    const session = await provider().Session.get(ctx);
    if (!signedIn(session)) {
      // Nothing to come back to after a sign-in (the POST's form is gone): a link to the account page, which signs in.
      html(
        ctx,
        401,
        views.render('error', {
          key: 'errors.login_required',
          code: 'login_required',
          link: { href: '/account', key: 'errors.sign_in_link' },
          lang: requestLanguage(ctx),
        }),
      );
      return;
    }
    ctx.state.session = session;
    ctx.state.actor = { type: 'user', id: session.accountId, ip: ctx.ip };
    await next();
  };

  /** One URL for every sign-in step: the page of the prompt oidc-provider is at. */
  const showPrompt: RouterMiddleware<InteractionState> = async function showPrompt(ctx) {
    const { prompt } = ctx.state.interaction;
    if (prompt.name === 'login') return login.show(ctx);
    if (prompt.name === 'consent') return consent.show(ctx);
    errorPage(ctx, views, 400, { key: 'errors.unsupported_step', code: prompt.name });
  };

  // The routes name no extra state or context (`<object, object>`): left to inference, the router
  // takes Koa's full Context from the body parser's type and then refuses the pages' own
  // middleware, typed on the router's context (only in the product build, without the tests).
  const signIn = new Router<InteractionState>();
  signIn.get<object, object>('/interaction/:uid', errors, loadInteraction, showPrompt);
  signIn.post<object, object>('/interaction/:uid/login', errors, loadInteraction, forms, interactionCsrf, login.submit);
  signIn.post<object, object>('/interaction/:uid/passkey', errors, loadInteraction, forms, interactionCsrf, login.passkey);
  // The second step of a sign-in (secondFactor.ts): a second factor, or adding a first one.
  const step = [errors, loadInteraction, forms, interactionCsrf] as const;
  signIn.post<object, object>('/interaction/:uid/second-factor/totp', ...step, secondFactor.submitTotp);
  signIn.post<object, object>('/interaction/:uid/second-factor/recovery-code', ...step, secondFactor.submitRecoveryCode);
  signIn.post<object, object>('/interaction/:uid/second-factor/passkey', ...step, secondFactor.submitPasskey);
  signIn.post<object, object>('/interaction/:uid/enrol/totp', ...step, secondFactor.enrolTotp);
  signIn.post<object, object>('/interaction/:uid/enrol/passkey', ...step, secondFactor.enrolPasskey);
  signIn.post<object, object>('/interaction/:uid/continue', ...step, secondFactor.proceed);
  // Sign-in through another identity provider (federation.ts): a button, the upstream's callback, the link step.
  signIn.post<object, object>('/interaction/:uid/federation/cancel', ...step, federation.cancelLink);
  signIn.post<object, object>('/interaction/:uid/federation/code', ...step, federation.submitCode);
  signIn.post<object, object>('/interaction/:uid/federation/:name', ...step, federation.start);
  signIn.get<object, object>('/interaction/:uid/federation/:name/callback', errors, loadInteraction, federation.callback);
  signIn.get<object, object>('/federation/:name/callback', errors, federation.relay);
  signIn.post<object, object>('/interaction/:uid/confirm', errors, loadInteraction, forms, interactionCsrf, consent.confirm);
  signIn.post<object, object>('/interaction/:uid/abort', errors, loadInteraction, forms, interactionCsrf, consent.abort);

  const shared = { errors, forms, loadInteraction, interactionCsrf, loadSession, accountCsrf };
  const pages = new Router();
  pages.use(signIn.routes());
  pages.use(createAccountRoutes(dependencies, shared).routes());
  pages.use(createSelfServiceRoutes(dependencies, shared).routes());
  // The router's type says its middleware needs ctx.params and ctx.router; it sets both itself
  // before any route runs, so the dispatcher (src/http) may call it as plain Koa middleware.
  return pages.routes() as Koa.Middleware;
}
