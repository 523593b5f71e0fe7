// The consent step of a sign-in: what the app asks for, in plain words (scopes.ts), and the
// person's answer: Allow adds what was missing to their grant, Cancel sends the app
// access_denied. Roles and organizations show here too: the scopes of an API with rbac that the
// person's roles do not give are named as not available (the engine has already left them out,
// src/oidc/access.ts), an organization's resource is named by the organization, and the pick
// resource (urn:portcullis:organization) asks which of the person's organizations the app may
// use. The answer replaces the pick in the interaction's own resource parameter, so oidc-provider
// resumes as if the app had named that organization: the code and tokens are for it.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import { z } from 'zod';
import { ORGANIZATION_PICK_RESOURCE, ORGANIZATION_RESOURCE_PREFIX } from '../access/index.ts';
import { openIdClaims } from '../oidc/index.ts';
import { scopeWords } from '../oauth/index.ts';
import { csrfToken } from './csrf.ts';
import { formText } from './form.ts';
import { errorPage, html, requestLanguage } from './respond.ts';
import type { InteractionState, PageDependencies } from './state.ts';
import { describeScopes, resourceRequest } from './scopes.ts';

/** What oidc-provider's consent prompt found missing from the grant (its prompt.details). */
const missingConsent = z.object({
  missingOIDCScope: z.array(z.string()).default([]),
  missingOIDCClaims: z.array(z.string()).default([]),
  /** Scopes of each API (by resource indicator) the app asks for and the person has not granted. */
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

/** The resource indicators of an authorization request: none, one, or several (RFC 8707). */
const indicatorsOf = (resource: unknown): string[] =>
  (Array.isArray(resource) ? resource : [resource]).filter((item): item is string => typeof item === 'string');

export function createConsentPage({ provider, views, users, resources, roles, organizations, audit, csrfKey }: PageDependencies) {
  /**
   * The scopes asked of each API with rbac that the person's roles do not give, by the API's
   * name: oidc-provider leaves them out of what it asks to consent to, so without this the page
   * would say nothing of them and the app would simply not get them.
   */
  async function refusedByRoles(indicators: string[], scope: unknown, accountId: string) {
    const asked = scopeWords(typeof scope === 'string' ? scope : '');
    const refused: { api: string; scopes: string[] }[] = [];
    for (const indicator of indicators) {
      const resource = await resources.findByAudience(indicator);
      const held = resource ? await roles.permittedOn(resource, { type: 'user', id: accountId }) : undefined;
      if (!resource || !held) continue;
      const offered = new Set(scopeWords(resource.scope));
      const missing = asked.filter((word) => offered.has(word) && !held.has(word));
      if (missing.length) refused.push({ api: resource.name ?? resource.audience, scopes: missing });
    }
    return refused;
  }

  async function show(ctx: RouterContext<InteractionState>): Promise<void> {
    const { uid, params, prompt, session } = ctx.state.interaction;
    const missing = missingConsent.parse(prompt.details);
    const requestedResources = await Promise.all(
      Object.entries(missing.missingResourceScopes).map(([audience, scopes]) =>
        resourceRequest({ resources, organizations }, audience, scopes),
      ),
    );
    const claimScopes = missing.missingOIDCClaims.flatMap((claim) => (scopeOfClaim[claim] ? [scopeOfClaim[claim]] : []));
    const scopes = [...new Set([...missing.missingOIDCScope, ...claimScopes])];
    const user = session ? await users.findById(session.accountId) : undefined;
    const lang = requestLanguage(ctx, params.ui_locales);
    const t = views.catalogue.translator(lang);
    const client = typeof params.client_id === 'string' ? await provider().Client.find(params.client_id) : undefined;
    const indicators = indicatorsOf(params.resource);
    const picking = indicators.includes(ORGANIZATION_PICK_RESOURCE);
    html(
      ctx,
      200,
      views.render('consent', {
        uid,
        clientName: client?.clientName ?? t('consent.unnamed_client'),
        email: user?.email ?? '',
        requests: describeScopes(scopes, requestedResources, t),
        refused: user ? await refusedByRoles(indicators, params.scope, user.id) : [],
        // The pick: the person's organizations, the first chosen (the form needs one).
        organizations: picking && user ? await organizations.organizationsOf(user.id) : undefined,
        csrf: csrfToken(csrfKey, 'interaction', uid),
        lang,
      }),
    );
  }

  /**
   * The organization picked for the pick resource: the person must be its member. The
   * interaction's resource parameter then names it instead of the pick, and is saved, so the
   * authorization oidc-provider resumes (and its code, and the tokens) is for that organization.
   */
  async function pickOrganization(ctx: RouterContext<InteractionState>, accountId: string): Promise<string | undefined> {
    const organizationId = formText(ctx, 'organization');
    const membership = organizationId ? await organizations.membership(accountId, organizationId) : undefined;
    if (!membership) {
      const t = views.catalogue.translator(requestLanguage(ctx));
      errorPage(ctx, views, 400, { message: t('consent.organization_not_member'), code: 'invalid_target' });
      return undefined;
    }
    const interaction = await provider().Interaction.find(ctx.state.interaction.uid);
    if (!interaction) return ctx.throw(400, 'the sign-in is gone');
    const chosen = `${ORGANIZATION_RESOURCE_PREFIX}${organizationId}`;
    const named = indicatorsOf(interaction.params.resource).map((indicator) =>
      indicator === ORGANIZATION_PICK_RESOURCE ? chosen : indicator,
    );
    interaction.params.resource = named.length === 1 ? named[0] : [...new Set(named)];
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    return organizationId;
  }

  const confirm: RouterMiddleware<InteractionState> = async function confirm(ctx) {
    const { prompt, params, session, grantId } = ctx.state.interaction;
    const clientId = params.client_id;
    if (prompt.name !== 'consent' || !session?.accountId || typeof clientId !== 'string') return ctx.throw(400, 'not expecting consent');
    const picking = indicatorsOf(params.resource).includes(ORGANIZATION_PICK_RESOURCE);
    const organizationId = picking ? await pickOrganization(ctx, session.accountId) : undefined;
    if (picking && !organizationId) return;
    const { Grant } = provider();
    // The grant this browser already holds for the app, or a first one.
    const grant = grantId ? await Grant.find(grantId) : new Grant({ accountId: session.accountId, clientId });
    if (!grant) return ctx.throw(400, 'the grant is gone');
    const missing = missingConsent.parse(prompt.details);
    if (missing.missingOIDCScope.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    // The pick's scopes are every organization's together; under the one picked go those it gives.
    const picked = organizationId ? await organizations.membership(session.accountId, organizationId) : undefined;
    const pickedScopes = new Set(picked?.permissions.map((permission) => permission.scope));
    const given: string[] = [];
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      const isPick = indicator === ORGANIZATION_PICK_RESOURCE && organizationId !== undefined;
      const audience = isPick ? `${ORGANIZATION_RESOURCE_PREFIX}${organizationId}` : indicator;
      const consented = isPick ? scopes.filter((scope) => pickedScopes.has(scope)) : scopes;
      if (consented.length) grant.addResourceScope(audience, consented.join(' '));
      given.push(audience);
    }
    const savedGrantId = await grant.save();
    await audit.record({
      type: 'consent.given',
      actorType: 'user',
      actorId: session.accountId,
      subject: clientId,
      ip: ctx.ip,
      outcome: 'success',
      details: { scope: missing.missingOIDCScope, resources: given },
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
