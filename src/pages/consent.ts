// The consent step of a sign-in: what the app asks for, in plain words (scopes.ts), and the
// person's answer: Allow adds what was missing to their grant, Cancel sends the app
// access_denied.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import { z } from 'zod';
import { openIdClaims } from '../oidc/index.ts';
import { csrfToken } from './csrf.ts';
import { html, requestLanguage } from './respond.ts';
import type { InteractionState, PageDependencies } from './state.ts';
import { describeScopes } from './scopes.ts';

/** What oidc-provider's consent prompt found missing from the grant (its prompt.details). */
const missingConsent = z.object({
  missingOIDCScope: z.array(z.string()).default([]),
  missingOIDCClaims: z.array(z.string()).default([]),
  /** Scopes of each API (by audience) the app asks for and the person has not granted. */
  missingResourceScopes: z.record(z.string(), z.array(z.string())).default({}),
});

/**
 * The scope that releases each claim (openIdClaims, the provider's own table; `sub` is no news):
 * a claim asked for by name through the claims parameter (OpenID Connect Core section 5.5) is
 * described as its scope is, so the page never says "nothing new" while the app is about to
 * learn an email address.
 */
const scopeOfClaim: Record<string, string> = Object.fromEntries(
  Object.entries(openIdClaims).flatMap(([scope, claims]) => (scope === 'openid' ? [] : claims.map((claim) => [claim, scope]))),
);

export function createConsentPage({ provider, views, users, resources, audit, csrfKey }: PageDependencies) {
  async function show(ctx: RouterContext<InteractionState>): Promise<void> {
    const { uid, params, prompt, session } = ctx.state.interaction;
    const missing = missingConsent.parse(prompt.details);
    const requestedResources = await Promise.all(
      Object.entries(missing.missingResourceScopes).map(async ([audience, scopes]) => {
        const resource = await resources.findByAudience(audience);
        return { audience, name: resource?.name ?? null, scopes };
      }),
    );
    const claimScopes = missing.missingOIDCClaims.flatMap((claim) => (scopeOfClaim[claim] ? [scopeOfClaim[claim]] : []));
    const scopes = [...new Set([...missing.missingOIDCScope, ...claimScopes])];
    const user = session ? await users.findById(session.accountId) : undefined;
    const lang = requestLanguage(ctx, params.ui_locales);
    const client = typeof params.client_id === 'string' ? await provider().Client.find(params.client_id) : undefined;
    html(
      ctx,
      200,
      views.render('consent', {
        uid,
        clientName: client?.clientName ?? views.catalogue.translator(lang)('consent.unnamed_client'),
        email: user?.email ?? '',
        requests: describeScopes(scopes, requestedResources, views.catalogue.translator(lang)),
        csrf: csrfToken(csrfKey, 'interaction', uid),
        lang,
      }),
    );
  }

  const confirm: RouterMiddleware<InteractionState> = async function confirm(ctx) {
    const { prompt, params, session, grantId } = ctx.state.interaction;
    const clientId = params.client_id;
    if (prompt.name !== 'consent' || !session?.accountId || typeof clientId !== 'string') return ctx.throw(400, 'not expecting consent');
    const { Grant } = provider();
    // The grant this browser already holds for the app, or a first one.
    const grant = grantId ? await Grant.find(grantId) : new Grant({ accountId: session.accountId, clientId });
    if (!grant) return ctx.throw(400, 'the grant is gone');
    const missing = missingConsent.parse(prompt.details);
    if (missing.missingOIDCScope.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [audience, scopes] of Object.entries(missing.missingResourceScopes)) grant.addResourceScope(audience, scopes.join(' '));
    const savedGrantId = await grant.save();
    await audit.record({
      type: 'consent.given',
      actorType: 'user',
      actorId: session.accountId,
      subject: clientId,
      ip: ctx.ip,
      outcome: 'success',
      details: { scope: missing.missingOIDCScope, resources: Object.keys(missing.missingResourceScopes) },
    });
    await provider().interactionFinished(ctx.req, ctx.res, { consent: { grantId: savedGrantId } }, { mergeWithLastSubmission: true });
    // oidc-provider has answered (a redirect back to the authorization endpoint).
    ctx.respond = false;
  };

  const abort: RouterMiddleware<InteractionState> = async function abort(ctx) {
    await provider().interactionFinished(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'the user cancelled' },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  };

  return { show, confirm, abort };
}
