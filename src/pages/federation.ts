// Signing in through another identity provider (a connection, src/federation): the login page's
// buttons send the person upstream (the code flow with PKCE, state and nonce); the upstream sends
// them back to ISSUER/federation/NAME/callback, which hands the callback to the sign-in its state
// names, where the browser's interaction cookie proves it is the same browser; there the answer
// is checked, and the person is signed in to the linked account, or a new one is made, or an
// existing account with the same address must first be signed in to once (the link step: the
// login page again, with a notice), because an address alone proves nothing. Every failure
// (declined, a wrong or replayed state, an upstream that is down or slow, a refusal) ends on the
// error page with its status and an audit event, never a 500.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import type { InteractionResults } from 'oidc-provider';
import { constantTimeEqual } from '../crypto/index.ts';
import { problemStatus, signInOfState, UpstreamError, type Connection, type UpstreamProblem } from '../federation/index.ts';
import { ACR } from '../oidc/index.ts';
import { federationStateOf, keepFederationState, type FederationState } from './federationState.ts';
import { csrfToken } from './csrf.ts';
import { createFlash } from './flash.ts';
import { formText } from './form.ts';
import { errorPage, html, requestLanguage } from './respond.ts';
import type { SecondFactorSteps } from './secondFactor.ts';
import type { SignInPolicy } from './signInPolicy.ts';
import type { InteractionState, PageDependencies } from './state.ts';

type Context = RouterContext<InteractionState>;

/** Why a sign-in through a connection was refused after the upstream answered (403). */
type Refusal = 'no_account' | 'no_email' | 'disabled' | 'unverified' | 'unknown_connection';

export function createFederationSteps(
  {
    provider,
    federation,
    audit,
    views,
    emailVerification,
    users,
    selfService,
    mailDeliverable,
    csrfKey,
    flashReads,
    issuer,
  }: PageDependencies,
  secondFactor: SecondFactorSteps,
  policy: SignInPolicy,
) {
  const pagePath = (uid: string) => `/interaction/${uid}`;
  const flashes = createFlash({ key: csrfKey, reads: flashReads, secure: issuer.startsWith('https:') });
  const visitor = (ctx: Context) => ({ ip: ctx.ip, lang: requestLanguage(ctx), userAgent: ctx.get('user-agent').slice(0, 300) });

  function redirectToPage(ctx: Context): void {
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(pagePath(ctx.state.interaction.uid));
  }

  const event = (ctx: Context | RouterContext, connection: string) => ({
    type: 'login',
    actorType: 'user' as const,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 300),
    details: {
      method: 'federation',
      connection,
      ...((ctx.state as Partial<InteractionState>).interaction
        ? { client_id: (ctx.state as InteractionState).interaction.params.client_id }
        : {}),
    },
  });

  /** The error page of a failed upstream step, with a way back to the sign-in. */
  async function fail(
    ctx: Context | RouterContext,
    connection: string,
    problem: UpstreamProblem | Refusal,
    detail?: string,
  ): Promise<void> {
    const base = event(ctx, connection);
    await audit.record({
      ...base,
      type: 'login.federation',
      outcome: 'failure',
      details: { ...base.details, reason: problem, ...(detail ? { upstream: detail.slice(0, 200) } : {}) },
    });
    const uid = (ctx.state as Partial<InteractionState>).interaction?.uid;
    const status = problem in problemStatus ? problemStatus[problem as UpstreamProblem] : problem === 'unknown_connection' ? 404 : 403;
    errorPage(ctx, views, status, {
      code: `federation_${problem}`,
      key: `login.federation.problems.${problem}`,
      lang: requestLanguage(ctx),
      ...(uid
        ? {
            // An address the upstream does not vouch for is confirmed by our own mail, as after a sign-up.
            link:
              problem === 'unverified'
                ? { href: `/verify-email/resend?interaction=${encodeURIComponent(uid)}`, key: 'login.resend_link' }
                : { href: pagePath(uid), key: 'login.federation.back' },
          }
        : {}),
    });
  }

  /** Sends the person to `connection`'s upstream: the flow is kept in the interaction first. */
  async function goUpstream(ctx: Context, connection: Connection, extra: FederationState = {}): Promise<void> {
    const { interaction } = ctx.state;
    let begun: Awaited<ReturnType<typeof federation.begin>>;
    try {
      begun = await federation.begin(connection, {
        signIn: interaction.uid,
        ...(typeof interaction.params.login_hint === 'string' ? { loginHint: interaction.params.login_hint.slice(0, 254) } : {}),
      });
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw error;
      return fail(ctx, connection.name, error.problem, error.message);
    }
    // A new attempt replaces any earlier one (and any link that waited): one flow per sign-in.
    await keepFederationState(interaction, {
      ...federationStateOf(interaction),
      ...extra,
      flow: begun.flow,
      link: undefined,
      prove: undefined,
    });
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(begun.url);
  }

  /** Signs `accountId` in as an upstream sign-in: a second factor first when this sign-in needs one. */
  async function signInAs(ctx: Context, accountId: string, connection: Connection): Promise<void> {
    const user = await users.findById(accountId);
    if (!user || user.disabled) return fail(ctx, connection.name, 'disabled');
    if (!user.emailVerified && emailVerification === 'required') return fail(ctx, connection.name, 'unverified');
    const base = { ...event(ctx, connection.name), actorId: accountId, subject: accountId };
    const decision = await policy.secondFactorFor(ctx, accountId);
    if (decision.kind === 'unmet') {
      await audit.record({ ...base, outcome: 'failure', details: { ...base.details, reason: 'unmet_authentication_requirements' } });
      return policy.refuseUnmet(ctx, decision.description);
    }
    if (decision.kind === 'second_factor') {
      await audit.record({ ...base, outcome: 'success', details: { ...base.details, second_factor: 'pending' } });
      return secondFactor.begin(ctx, { accountId, amr: ['fed'] });
    }
    await audit.record({ ...base, outcome: 'success' });
    // RFC 8176 `fed`: the person was authenticated by a federated identity provider.
    const result: InteractionResults = {
      login: { accountId, amr: ['fed'], acr: ACR.password, ts: Math.floor(Date.now() / 1000) },
    };
    await provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
  }

  return {
    /** The enabled connections' buttons for the login page (none during a link step). */
    async buttons(ctx: Context): Promise<{ name: string; displayName: string }[]> {
      if (federationStateOf(ctx.state.interaction).link) return [];
      return federation.connections.buttons();
    },

    /** The upstream identity waiting to be linked, for the login page's notice. */
    pendingLink(ctx: Context): { displayName: string; email?: string } | undefined {
      const { link } = federationStateOf(ctx.state.interaction);
      return link ? { displayName: link.displayName, ...(link.profile.email ? { email: link.profile.email } : {}) } : undefined;
    },

    /**
     * Before the login page shows: an app that sent `connection=NAME` (once), or a client whose
     * only way in is one connection, goes straight upstream. True when it answered.
     */
    async autoStart(ctx: Context): Promise<boolean> {
      const { interaction } = ctx.state;
      if (interaction.prompt.name !== 'login') return false;
      const state = federationStateOf(interaction);
      if (state.link) return false;
      const only = await policy.onlyConnection(ctx);
      if (only) {
        const connection = await federation.connections.forSignIn(only);
        if (!connection) {
          await fail(ctx, only, 'unknown_connection');
          return true;
        }
        await goUpstream(ctx, connection);
        return true;
      }
      const hint = interaction.params.connection;
      if (typeof hint !== 'string' || state.hintFollowed) return false;
      const connection = await federation.connections.forSignIn(hint);
      // An unknown name shows the login page with every way in, as Keycloak does with kc_idp_hint.
      if (!connection) return false;
      await goUpstream(ctx, connection, { hintFollowed: true });
      return true;
    },

    /** POST /interaction/:uid/federation/:name: the login page's button. */
    start: async function startFederation(ctx) {
      if (ctx.state.interaction.prompt.name !== 'login') ctx.throw(400, 'not expecting a sign-in');
      const name = String(ctx.params.name ?? '');
      const connection = await federation.connections.forSignIn(name);
      if (!connection) return fail(ctx, name.slice(0, 63), 'unknown_connection');
      const only = await policy.onlyConnection(ctx);
      if (only && only !== connection.name) return fail(ctx, name, 'unknown_connection');
      await goUpstream(ctx, connection);
    } as RouterMiddleware<InteractionState>,

    /**
     * GET /federation/:name/callback: the upstream's redirect. The state names the sign-in; the
     * callback goes on under that sign-in's path, where the browser's interaction cookie is sent.
     */
    relay: async function federationCallback(ctx) {
      const name = String(ctx.params.name ?? '').slice(0, 63);
      const uid = signInOfState(typeof ctx.query.state === 'string' ? ctx.query.state : undefined);
      if (!uid) return fail(ctx as unknown as Context, name, 'bad_state', 'the callback has no state of this server');
      ctx.status = 303;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(`${pagePath(uid)}/federation/${encodeURIComponent(name)}/callback?${ctx.querystring}`);
    } as RouterMiddleware,

    /** GET /interaction/:uid/federation/:name/callback: the upstream's answer, checked and acted on. */
    callback: async function federationFinish(ctx) {
      const { interaction } = ctx.state;
      const name = String(ctx.params.name ?? '');
      const state = federationStateOf(interaction);
      const { flow } = state;
      const query = new URLSearchParams(ctx.querystring);
      const returned = query.get('state') ?? '';
      if (interaction.prompt.name !== 'login' || !flow || flow.connection !== name || !constantTimeEqual(returned, flow.state))
        return fail(
          ctx,
          name.slice(0, 63),
          'bad_state',
          flow ? 'the state does not match this sign-in' : 'no sign-in through a connection is under way',
        );
      // The flow is used once: a replayed callback finds none.
      await keepFederationState(interaction, { ...state, flow: undefined });
      let answer: Awaited<ReturnType<typeof federation.complete>>;
      try {
        answer = await federation.complete(flow, query);
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        return fail(ctx, name, error.problem, error.upstreamError ?? error.message);
      }
      const { connection, profile, tokens } = answer;
      const resolution = await federation.identities.resolve(connection, profile, tokens);
      if (resolution.kind === 'refused') return fail(ctx, name, resolution.reason);
      if (resolution.kind === 'prove') {
        // The upstream does not vouch for the address: the code of a verification mail, typed here, proves it.
        if (!mailDeliverable) return fail(ctx, name, 'unverified');
        await selfService.resendVerification(resolution.email, visitor(ctx));
        const base = event(ctx, name);
        await audit.record({
          ...base,
          actorId: resolution.userId,
          subject: resolution.userId,
          type: 'login.federation',
          outcome: 'success',
          details: { ...base.details, address_proof: 'pending' },
        });
        const { userId, identityId, email } = resolution;
        await keepFederationState(interaction, {
          ...state,
          flow: undefined,
          prove: { userId, identityId, email, connectionId: connection.id, connection: connection.name },
        });
        return redirectToPage(ctx);
      }
      if (resolution.kind === 'link') {
        const base = event(ctx, name);
        await audit.record({ ...base, type: 'login.federation', outcome: 'success', details: { ...base.details, link: 'pending' } });
        await keepFederationState(interaction, { ...state, flow: undefined, link: resolution.pending });
        return redirectToPage(ctx);
      }
      await signInAs(ctx, resolution.userId, connection);
    } as RouterMiddleware<InteractionState>,

    /** The page that asks for the code mailed to an unproven address, when one is asked for (true when it answered). */
    async showProof(ctx: Context): Promise<boolean> {
      const { interaction } = ctx.state;
      const { prove } = federationStateOf(interaction);
      if (!prove || interaction.prompt.name !== 'login') return false;
      const refusal = await flashes.take<{ status: 401 | 429; key: string; minutes?: number }>(
        ctx,
        interaction.uid,
        pagePath(interaction.uid),
      );
      if (refusal?.minutes) ctx.set('Retry-After', String(refusal.minutes * 60));
      const lang = requestLanguage(ctx, interaction.params.ui_locales);
      const t = views.catalogue.translator(lang);
      html(
        ctx,
        refusal?.status ?? 200,
        views.render('login-federation-code', {
          uid: interaction.uid,
          csrf: csrfToken(csrfKey, 'interaction', interaction.uid),
          email: prove.email,
          error: refusal ? t(refusal.key, { count: refusal.minutes ?? 1 }) : undefined,
          lang,
        }),
      );
      return true;
    },

    /** POST /interaction/:uid/federation/code: the code of the verification mail; right, the sign-in goes on. */
    submitCode: async function submitAddressCode(ctx) {
      const { interaction } = ctx.state;
      const state = federationStateOf(interaction);
      const { prove } = state;
      if (!prove) return redirectToPage(ctx);
      const refuse = (refusal: { status: 401 | 429; key: string; minutes?: number }) => {
        flashes.set(ctx, interaction.uid, refusal, pagePath(interaction.uid));
        redirectToPage(ctx);
      };
      const outcome = await selfService.verifyByCode(prove.email, formText(ctx, 'code').slice(0, 20), visitor(ctx));
      if (!outcome.ok && 'retryAfterSeconds' in outcome)
        return refuse({ status: 429, key: 'login.federation.code.limited', minutes: Math.ceil(outcome.retryAfterSeconds / 60) });
      if (!outcome.ok || outcome.userId !== prove.userId) return refuse({ status: 401, key: 'login.federation.code.wrong' });
      await federation.identities.markProven(prove.userId, prove.identityId);
      await keepFederationState(interaction, { ...state, prove: undefined });
      const connection = await federation.connections.byId(prove.connectionId);
      if (!connection?.enabled) return fail(ctx, prove.connection, 'unknown_connection');
      await signInAs(ctx, prove.userId, connection);
    } as RouterMiddleware<InteractionState>,

    /** POST /interaction/:uid/federation/cancel: the person does not want the upstream identity linked. */
    cancelLink: async function cancelLink(ctx) {
      const { interaction } = ctx.state;
      await keepFederationState(interaction, { ...federationStateOf(interaction), link: undefined, prove: undefined });
      redirectToPage(ctx);
    } as RouterMiddleware<InteractionState>,
  };
}

export type FederationSteps = ReturnType<typeof createFederationSteps>;
