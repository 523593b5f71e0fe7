// Builds the oidc-provider instance: Portcullis's storage, clients, accounts, APIs and keys
// plugged into the engine that runs every OAuth flow. Every option Portcullis sets is here.
import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import Provider, { errors, type Configuration } from 'oidc-provider';
import { ACCOUNT_CLIENT_ID, accountClientMetadata } from '../accounts/index.ts';
import { looksLikeApiKey, type ApiKeyService } from '../apikeys/index.ts';
import { artifactIdHash, createAdapterFactory } from '../artifacts/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { Config } from '../config/index.ts';
import { isDatabaseError, type Statements } from '../db/index.ts';
import type { LoadedKeys } from '../keys/index.ts';
import type { RateLimiter } from '../limits/index.ts';
import { scopeWords } from '../oauth/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { negotiateLanguage, SUPPORTED_LANGUAGES } from '../i18n/index.ts';
import type { Views } from '../templates/index.ts';
import type { UserService } from '../users/index.ts';
import { apiKeyIntrospection, createApiKeyExchange } from './apiKeys.ts';
import {
  createPersonTokenExchange,
  createTokenExchangeGrant,
  tokenExchangeDuplicates,
  tokenExchangeParameters,
  TOKEN_EXCHANGE_GRANT,
  type ExchangedClaims,
  type PersonTokenExchange,
} from './tokenExchange.ts';
import { PORTCULLIS_METADATA, portcullisClient, type Client } from './clientMetadata.ts';
import { clientAuthFailures, introspectionLimit, limitedGrant } from './endpointLimits.ts';
import { clientCredentialsDuplicates, clientCredentialsParameters, createClientCredentialsGrant } from './clientCredentials.ts';
import { resourceServerInfo } from './resourceServers.ts';
import { jwtIntrospection, signedIntrospection } from './jwtIntrospection.ts';
import { rejectReplayedProof } from './dpop.ts';
import { EXTERNAL_SIGNING_FEATURE, localSigningKeys } from './localSigning.ts';
import { unauthorizedClientForGrantType } from './standardErrors.ts';
import { createDeviceFlow, DEVICE_AUTHORIZATION_PATH, DEVICE_CODE_GRANT, DEVICE_PATH } from './deviceFlow.ts';
import { createRegistration } from './registration.ts';
import { ACR, interactionPolicyWithStepUp, type PersonPolicy } from './authentication.ts';
import { accountOf, refreshScopeCheck, type AccessRules } from './access.ts';
import { ORGANIZATION_RESOURCE_PREFIX, ORGANIZATIONS_SCOPE, type OrganizationService } from '../access/index.ts';

export interface ProviderDependencies {
  config: Config;
  /** Where oidc-provider's artifacts are read and written (src/db/statements.ts). */
  statements: Statements;
  clients: ClientService;
  users: UserService;
  resources: ResourceService;
  keys: LoadedKeys;
  views: Views;
  apiKeys: ApiKeyService;
  rateLimiter: RateLimiter;
  /** The newest grant an account gave a client, so consent is remembered across browsers. */
  findGrantId?: (accountId: string, clientId: string) => Promise<string | undefined>;
  /** Called after a successful RFC 7009 revocation. */
  onTokenRevoked?: (details: { clientId: string; ip: string }) => void;
  /** Called after a person's access token was exchanged for a token for another API (RFC 8693). */
  onTokenExchanged?: (exchange: PersonTokenExchange) => void;
  /** Called when a refresh token is presented a second time (the grant has been revoked). */
  onRefreshTokenReuse?: (details: { clientId: string; accountId?: string; grantId?: string; ip: string }) => void;
  /** Whether the grant stored under this row key (HMAC of its id) is still live. */
  grantIsLive: (grantRef: string) => Promise<boolean>;
  /** What the sign-in policy knows of a person (src/oidc/authentication.ts): an administrator's mark, a second factor. */
  personPolicy: (accountId: string) => Promise<PersonPolicy>;
  /** Which scopes roles give, and organizations as resources (src/oidc/access.ts). */
  access: AccessRules;
  /** A person's organizations, for the ID token's `organizations` claims. */
  organizations: Pick<OrganizationService, 'organizationsOf'>;
}

/** Seconds a client assertion's iat may be ahead of this server's clock (FAPI 2.0 section 5.3.2.1). */
const MAX_ASSERTION_IAT_AHEAD = 60;

/** Lifetimes, in seconds, that are not configuration (see src/config for the ones that are). */
export const fixedLifetimes = {
  AuthorizationCode: 60,
  // RFC 8628 section 3.2's expires_in: long enough to find a phone and sign in, short enough
  // that a code photographed off a screen is soon useless.
  DeviceCode: 10 * 60,
  Interaction: 60 * 60,
  Session: 14 * 24 * 60 * 60,
  Grant: 90 * 24 * 60 * 60,
} as const;

/** OpenID Connect scopes and the claims each releases (OpenID Connect Core section 5.4). */
export const openIdClaims = {
  openid: ['sub'],
  profile: ['name'],
  email: ['email', 'email_verified'],
};

/** The claims of the organizations scope: the person's organizations' ids, and `ORG_ID:ROLE` for each role held. */
export const organizationClaims = { [ORGANIZATIONS_SCOPE]: ['organizations', 'organization_roles'] };

// oidc-provider's default paths for its POST endpoints (Portcullis does not change `routes`).
const TOKEN_PATH = '/token';
const INTROSPECTION_PATH = '/token/introspection';
const REVOCATION_PATH = '/token/revocation';

/** Runs `outer` around `inner`: `outer`'s next() is `inner`, whose next() is the request's. */
const around =
  (outer: Middleware, inner: Middleware): Middleware =>
  (ctx, next) =>
    outer(ctx, () => inner(ctx, next));

/**
 * The path as oidc-provider's router matches it against its routes, all ASCII: ASCII letters in
 * either case, and one trailing slash dropped. Its router folds other letters only among
 * themselves, so a path with a character outside ASCII matches none of them: it is returned
 * unchanged, and compares equal to no route path here.
 */
export function routedPath(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(path)) return path;
  const folded = path.toLowerCase();
  return folded.length > 1 && folded.endsWith('/') ? folded.slice(0, -1) : folded;
}

/**
 * Portcullis's fix-ups of oidc-provider's answers, as one layer in its stack: each layer costs
 * promises on every request, and most requests need only the database-outage answer. The chain
 * for a POST is found by the path oidc-provider will route (`routedPath`), and each fix-up still
 * checks the route oidc-provider actually chose.
 */
function fixups(forPost: Record<string, Middleware[]>, otherwise: Middleware): Middleware {
  const chains = new Map(Object.entries(forPost).map(([path, steps]) => [path, steps.reduceRight((inner, outer) => around(outer, inner))]));
  return (ctx, next) => ((ctx.method === 'POST' && chains.get(routedPath(ctx.path))) || otherwise)(ctx, next);
}

/**
 * The language of a page oidc-provider renders (errors, sign-out): the request's ui_locales
 * (OpenID Connect Core section 3.1.2.1, and RP-Initiated Logout section 2), then Accept-Language.
 */
function pageLanguage(ctx: { get(name: string): string; oidc?: { params?: Record<string, unknown> } }): string {
  return negotiateLanguage({ uiLocales: ctx.oidc?.params?.ui_locales, acceptLanguage: ctx.get('accept-language') });
}

export function createProvider({
  config,
  statements,
  clients,
  users,
  resources,
  keys,
  views,
  apiKeys,
  rateLimiter,
  findGrantId,
  onTokenRevoked,
  onTokenExchanged,
  onRefreshTokenReuse,
  grantIsLive,
  personPolicy,
  access,
  organizations,
}: ProviderDependencies): Provider {
  const accessTokenTtl = (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) =>
    token.resourceServer?.accessTokenTTL ?? config.lifetimes.accessToken;

  const organizationClaimsOf = async (userId: string) => {
    const mine = await organizations.organizationsOf(userId);
    return {
      organizations: mine.map((organization) => organization.id),
      organization_roles: mine.flatMap((organization) => organization.roles.map((role) => `${organization.id}:${role}`)),
    };
  };
  const deviceFlow = createDeviceFlow({ views, rateLimiter, failureLimit: config.deviceCodeFailureLimit });
  // RFC 7591 and 7592 when CLIENT_REGISTRATION=on (src/oidc/registration.ts).
  const registration = createRegistration({ config, clients, openIdScopes: ['offline_access', ...Object.keys(openIdClaims)] });
  const configuration: Configuration = {
    adapter: createAdapterFactory({
      statements,
      pepper: config.hashPepper,
      findClient: (id) => clients.findProviderMetadata(id),
      // API keys are answered by src/apikeys; no token table needs to be searched for one.
      notAnArtifact: (id) => looksLikeApiKey(id, [apiKeys.prefix]),
      registration: registration.adapter,
    }),
    formats: {
      customizers: {
        async jwt(_ctx, token, jwt) {
          // A token exchanged for an API key speaks for the key's owner (src/oidc/apiKeys.ts).
          const { apiKeySubject, apiKeyId } = token as unknown as { apiKeySubject?: string; apiKeyId?: string };
          if (apiKeySubject) Object.assign(jwt.payload, { sub: apiKeySubject, api_key_id: apiKeyId });
          // A person's token exchanged for another API speaks for the person, under the person's
          // grant, with `act` when a client acts for them (src/oidc/tokenExchange.ts).
          const { exchangedClaims } = token as unknown as { exchangedClaims?: ExchangedClaims };
          if (exchangedClaims) Object.assign(jwt.payload, exchangedClaims);
          // A person's token names its grant by the grant's row key (an HMAC, not the grant id),
          // so introspection can answer inactive once the grant is revoked (a reused refresh
          // token, a password reset, a disabled account, the person revoking the app).
          const { grantId } = token as { grantId?: string };
          if (grantId) Object.assign(jwt.payload, { grant_ref: artifactIdHash(config.hashPepper, grantId) });
          // An organization's token names it (src/oidc/access.ts); an API that asks for them
          // gets the names of the subject's roles that give its scopes.
          const audience = (token as { resourceServer?: { audience?: string } }).resourceServer?.audience;
          const { kind, organizationId } = token as unknown as { kind?: string; organizationId?: string };
          if (audience?.startsWith(ORGANIZATION_RESOURCE_PREFIX)) {
            Object.assign(jwt.payload, { organization_id: audience.slice(ORGANIZATION_RESOURCE_PREFIX.length) });
          } else if (organizationId) {
            // A token exchanged for an organization's API key (src/oidc/apiKeys.ts).
            Object.assign(jwt.payload, { organization_id: organizationId });
          } else if (kind === 'ClientCredentials' && !apiKeySubject && !exchangedClaims && _ctx?.oidc?.client) {
            // A client that belongs to an organization speaks for it (machine-to-machine access for that tenant).
            const owner = portcullisClient(_ctx.oidc.client).organizationId;
            if (owner) Object.assign(jwt.payload, { organization_id: owner });
          }
          if (audience && !audience.startsWith(ORGANIZATION_RESOURCE_PREFIX) && !apiKeySubject && !exchangedClaims) {
            const resource = await resources.findByAudience(audience);
            if (resource?.roles_claim) {
              const { accountId, clientId } = token as { accountId?: string; clientId?: string };
              const holder = accountId
                ? { type: 'user' as const, id: accountId }
                : clientId
                  ? { type: 'client' as const, id: clientId }
                  : undefined;
              if (holder) Object.assign(jwt.payload, { roles: await access.rolesOn(resource, holder) });
            }
          }
        },
      },
    },
    // Signed in this thread with node:crypto rather than on the thread pool (src/oidc/localSigning.ts).
    jwks: localSigningKeys(keys.privateJwks) as Configuration['jwks'],
    scopes: ['openid', 'offline_access', 'profile', 'email', ORGANIZATIONS_SCOPE],
    // How the person signed in goes with the openid scope, so every ID token says it (auth_time
    // always, acr and amr: RFC 8176), and the userinfo answer says the same as the token it was
    // asked with (findAccount below).
    claims: { ...openIdClaims, ...organizationClaims, openid: [...openIdClaims.openid, 'acr', 'amr', 'auth_time'] },
    // The authentication context classes (src/oidc/authentication.ts); without second factors only the password's.
    acrValues: config.mfa === 'off' ? [ACR.password] : [ACR.password, ACR.mfa],
    // An access token of a person's sign-in says how they signed in (RFC 9068 section 2.2.1), in
    // the JWT and in the introspection of an opaque one, so an API can ask for a second factor.
    async extraTokenClaims(ctx, token) {
      if (!('accountId' in token) || !token.accountId) return undefined;
      const entities = ctx?.oidc?.entities as Record<string, { acr?: string; amr?: string[]; authTime?: number } | undefined> | undefined;
      const source = entities?.AuthorizationCode ?? entities?.RefreshToken ?? entities?.DeviceCode;
      if (!source) return undefined;
      return {
        ...(source.acr ? { acr: source.acr } : {}),
        ...(source.amr ? { amr: source.amr } : {}),
        ...(source.authTime ? { auth_time: source.authTime } : {}),
      };
    },
    // OpenID Connect Discovery section 3: the languages the pages are shipped in (views/locales).
    discovery: { claim_types_supported: ['normal'], ui_locales_supported: [...SUPPORTED_LANGUAGES] },
    // The account page's client, static: no Client row, so no list, export or manifest sees it.
    clients: [accountClientMetadata(config.issuer, config.brand.name)],
    // The login prompt asks an already signed-in person for a second factor when the sign-in
    // needs one (step-up: src/oidc/authentication.ts).
    interactions: {
      policy: interactionPolicyWithStepUp(config.mfa, personPolicy),
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // PKCE for every client, public or confidential (OAuth 2.1; RFC 9700 section 2.1.1); S256 only.
    pkce: { required: () => true },
    // Refresh tokens: only with offline_access (or for clients configured to always get them),
    // rotated on every use; a reused one revokes the whole grant (RFC 9700 section 4.14.2).
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      return code.scopes.has('offline_access') || portcullisClient(client).alwaysIssueRefreshToken;
    },
    // FAPI 2.0 section 5.3.2.1 asks not to rotate: a fapi2 client is confidential, so its refresh
    // tokens are bound to its private_key_jwt authentication (RFC 9449 section 5), and a stolen one
    // is useless without the client's key.
    rotateRefreshToken: (ctx) => portcullisClient(ctx.oidc.client!).profile !== 'fapi2',
    // Consent is remembered per person and app, not per browser: a grant given in one session
    // is found again from another (oidc-provider's default looks only in the current session).
    async loadExistingGrant(ctx) {
      const clientId = ctx.oidc.client!.clientId;
      const accountId = ctx.oidc.session!.accountId;
      const grantId =
        ctx.oidc.result?.consent?.grantId ??
        ctx.oidc.session!.grantIdFor(clientId) ??
        (accountId ? await findGrantId?.(accountId, clientId) : undefined);
      const found = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (found) return found;
      // The account page's own sign-in (src/accounts/sessions.ts) is Portcullis itself: the
      // person is signing in to their own account, so there is no consent to ask.
      if (accountId && clientId === ACCOUNT_CLIENT_ID) {
        const grant = new ctx.oidc.provider.Grant({ clientId, accountId });
        grant.addOIDCScope('openid');
        await grant.save();
        return grant;
      }
      return undefined;
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      // The catalogue's words for the code (views/error.eta), the provider's English description under them.
      ctx.body = views.render('error', { lang: pageLanguage(ctx), code: out.error, detail: out.error_description });
    },
    cookies: {
      keys: config.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    features: {
      devInteractions: { enabled: false },
      externalSigningSupport: EXTERNAL_SIGNING_FEATURE,
      clientCredentials: { enabled: true },
      // RFC 8628 (src/oidc/deviceFlow.ts).
      deviceFlow: deviceFlow.feature,
      // RFC 9126: every client may push its request; a client registered with
      // require_pushed_authorization_requests must, and with REQUIRE_PAR=true every client must.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: config.requirePar },
      // RFC 9101: request objects by value (`request`) and inside a pushed request, signed with a
      // key the client registered (jwks). An unsigned one (`alg: none`) is refused because `none`
      // is not among enabledJWA.requestObjectSigningAlgValues; requireSignedRequestObject would
      // mean something else (every request must be a request object) and stays off.
      requestObjects: { enabled: true, requireSignedRequestObject: false },
      // RFC 9449 on every grant (oidc-provider's own and src/oidc/dpop.ts for Portcullis's). Nonces
      // are derived from HASH_PEPPER, so every instance issues and accepts the same ones.
      dPoP: {
        enabled: true,
        nonceSecret: crypto.createHmac('sha256', config.hashPepper).update('portcullis DPoP-Nonce').digest(),
        requireNonce: () => config.dpopRequireNonce,
      },
      // FAPI 2.0 Security Profile for the clients registered with --profile fapi2 (its other
      // rules are the client's: src/clients/rules.ts).
      fapi: { enabled: true, profile: (_ctx, client) => (client && portcullisClient(client).profile === 'fapi2' ? '2.0' : undefined) },
      // OpenID Connect Core section 5.5.
      claimsParameter: { enabled: true },
      // RFC 9701: a signed introspection answer for a resource server that asks for one, for
      // every answer (oidc-provider's, and Portcullis's for JWTs and API keys): src/oidc/jwtIntrospection.ts.
      jwtIntrospection: { enabled: true },
      ...registration.features,
      introspection: {
        enabled: true,
        // RFC 7662 section 2.1: the caller must be authorized. Resource servers are registered as
        // confidential clients; a public client, which cannot authenticate, may not introspect
        // (the same rule holds for API keys and JWTs: apiKeys.ts, jwtIntrospection.ts).
        // A refresh token is described only to the client it was issued to: it is that
        // client's credential, and no resource server ever needs to accept one.
        allowedPolicy: async (_ctx, client, token) =>
          client.clientAuthMethod !== 'none' && (token.kind !== 'RefreshToken' || token.clientId === client.clientId),
      },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = views.render('logout', { lang: pageLanguage(ctx), form, clientName: ctx.oidc.client?.clientName });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = views.render('logged-out', { lang: pageLanguage(ctx), clientName: ctx.oidc.client?.clientName });
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 section 2.1: a client may revoke only tokens that were issued to it, and is
        // told when it tried another's (oidc-provider's default answers 200 and does nothing).
        allowedPolicy: async (_ctx, client, token) => {
          if (token.clientId !== client.clientId) throw new errors.UnauthorizedClient('the token was not issued to this client');
          return true;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, client) => portcullisClient(client).defaultResource ?? undefined!,
        getResourceServerInfo: async (ctx, indicator, client) => {
          const { allowedScope } = portcullisClient(client);
          const organizationServer = await access.organizationServer(ctx, indicator, allowedScope, (audience, scope) =>
            resourceServerInfo(
              {
                audience,
                scope,
                access_token_ttl: config.lifetimes.accessToken,
              } as Parameters<typeof resourceServerInfo>[0],
              keys.signing,
            ),
          );
          if (organizationServer) return organizationServer;
          const resource = await resources.findByAudience(indicator);
          if (!resource) throw new errors.InvalidTarget('resource is not a registered API');
          // A client gets at most the API scopes it was registered for; with rbac, a person at
          // most what their roles give (once they are known: nothing is issued before).
          const accountId = accountOf(ctx);
          const permitted = accountId ? await access.permitted(resource, { type: 'user', id: accountId }) : undefined;
          const scope = scopeWords(resource.scope)
            .filter((item) => allowedScope.has(item) && (!permitted || permitted.has(item)))
            .join(' ');
          return resourceServerInfo({ ...resource, scope }, keys.signing);
        },
        useGrantedResource: async () => true,
      },
    },
    // Only asymmetric signing: HS* would make the client secret a signing key, and secrets are not kept.
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      authorizationSigningAlgValues: ['ES256', 'RS256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
    },
    // Client assertions (RFC 7523). FAPI 2.0 section 5.3.2.1 item 7: an iat up to 10 s ahead is
    // accepted (jose's clockTolerance of 15 s covers nbf and exp), one more than 60 s ahead is
    // refused; jose does not look at iat in the future, so it is checked here, for every
    // client (a clock that far off is no client's to have). A FAPI 2.0 client's assertion must
    // name the issuer as its audience (section 5.3.2.1 item 8), as oidc-provider's default did.
    async assertJwtClientAuthClaimsAndHeader(ctx, claims) {
      const { iat, aud } = claims as { iat?: unknown; aud?: unknown };
      if (typeof iat === 'number' && iat > Math.floor(Date.now() / 1000) + MAX_ASSERTION_IAT_AHEAD) {
        throw new errors.InvalidClientAuth('client assertion iat is too far in the future');
      }
      if (ctx.oidc.isFapi('2.0') && aud !== ctx.oidc.issuer) {
        throw new errors.InvalidClientAuth('audience (aud) must equal the issuer identifier url');
      }
    },
    extraClientMetadata: { properties: [...PORTCULLIS_METADATA] },
    // `connection=NAME` sends the person straight to that upstream identity provider (src/pages/federation.ts).
    extraParams: ['connection'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    // RFC 9700 section 2.1.2: no implicit or hybrid flows; the code flow only.
    responseTypes: ['code'],
    // OpenID Connect Core section 3.1.2.1: redirect_uri is required, even of a client with one
    // registered (oidc-provider would fill it in; the conformance suite expects an error page).
    allowOmittingSingleRegisteredRedirectUri: false,
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // Sign ID tokens with the algorithm of the key that signs everything else.
      id_token_signed_response_alg: keys.signing.alg as 'ES256' | 'RS256',
      // RFC 9701: the same for signed introspection answers. oidc-provider's own default is
      // RS256, which no client could be loaded with while the signing key is ES256.
      introspection_signed_response_alg: keys.signing.alg as 'ES256' | 'RS256',
    },
    async findAccount(ctx, sub) {
      const user = await users.findAccount(sub);
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.id,
        async claims(use, scope) {
          // The userinfo answer says how the person signed in as its access token does (extraTokenClaims).
          const extra =
            use === 'userinfo' ? (ctx?.oidc?.entities?.AccessToken as { extra?: Record<string, unknown> } | undefined)?.extra : undefined;
          return {
            sub: user.id,
            email: user.email,
            email_verified: user.emailVerified,
            ...(user.name ? { name: user.name } : {}),
            ...(extra ? { acr: extra.acr, amr: extra.amr, auth_time: extra.auth_time } : {}),
            ...((scope ?? '').split(' ').includes(ORGANIZATIONS_SCOPE) ? await organizationClaimsOf(user.id) : {}),
          };
        },
      };
    },
    ttl: {
      ...fixedLifetimes,
      // A grant outlives the longest refresh-token chain it can carry.
      Grant: Math.max(fixedLifetimes.Grant, config.lifetimes.refreshTokenAbsolute),
      IdToken: config.lifetimes.idToken,
      AccessToken: accessTokenTtl as never,
      ClientCredentials: accessTokenTtl as never,
      RefreshToken: ((_ctx: unknown, token: { iiat?: number; iat?: number }) => {
        const now = Math.floor(Date.now() / 1000);
        const absoluteLeft = (token.iiat ?? token.iat ?? now) + config.lifetimes.refreshTokenAbsolute - now;
        return Math.max(1, Math.min(config.lifetimes.refreshTokenIdle, absoluteLeft));
      }) as never,
    },
  };

  // Every grant handler, oidc-provider's own and ours, runs after the client authenticated: that
  // is where the per-client token limit is counted (src/oidc/endpointLimits.ts). oidc-provider
  // registers its handlers through registerGrantType while it is constructed, so the wrap is
  // an override of that method.
  class LimitedProvider extends Provider {}
  const register = Provider.prototype.registerGrantType;
  LimitedProvider.prototype.registerGrantType = function registerLimitedGrantType(this: Provider, name, handler, ...rest) {
    // The device flow's polls are paced first (RFC 8628 section 3.5, src/oidc/deviceFlow.ts).
    const paced = name === DEVICE_CODE_GRANT ? deviceFlow.pollingInterval(handler as never) : handler;
    // A refresh naming a scope the person's roles do not give is refused before the token is used up.
    const checked = name === 'refresh_token' ? refreshScopeCheck(paced as never, resources, access) : paced;
    register.call(this, name, limitedGrant(checked as never, rateLimiter, config.tokenRateLimit), ...rest);
  } as Provider['registerGrantType'];
  const provider: Provider = new LimitedProvider(config.issuer, configuration);
  registration.attach(provider);
  provider.registerGrantType(
    'client_credentials',
    createClientCredentialsGrant(resources, () => keys.signing, access),
    clientCredentialsParameters,
    clientCredentialsDuplicates,
  );
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    createTokenExchangeGrant({
      apiKey: createApiKeyExchange(apiKeys, rateLimiter, resources, (resource) => resourceServerInfo(resource, keys.signing), access),
      person: createPersonTokenExchange({
        issuer: config.issuer,
        publicJwks: keys.publicJwks as never,
        resources,
        resourceServer: (resource) => resourceServerInfo(resource, keys.signing),
        access,
        // Called per request, after jwtIsLive (below) is defined.
        isLive: (payload) => jwtIsLive(payload),
        onExchanged: onTokenExchanged,
      }),
      looksLikeApiKey: (token) => looksLikeApiKey(token, [apiKeys.prefix]),
    }) as never,
    tokenExchangeParameters,
    tokenExchangeDuplicates,
  );
  // RFC 9449 section 11.1: a DPoP proof (and any other jti oidc-provider checks) is single use.
  // Its ReplayDetection.unique finds and then saves, so concurrent requests with one proof could
  // all pass; this is the same record, claimed in one statement (src/artifacts/adapter.ts).
  const replayDetection = provider.ReplayDetection as unknown as {
    adapter: { insertIfAbsent(id: string, payload: object, expiresIn: number): Promise<boolean> };
    unique(iss: string, jti: string, exp: number): Promise<boolean>;
  };
  replayDetection.unique = async (iss, jti, exp) => {
    // The id oidc-provider gives the record (lib/models/replay_detection.js).
    const id = crypto.hash('sha256', `${iss}${jti}`, 'base64url');
    const unique = await replayDetection.adapter.insertIfAbsent(
      id,
      { iss, jti: id, kind: 'ReplayDetection', exp },
      exp - Math.floor(Date.now() / 1000),
    );
    // A replayed DPoP proof is invalid_dpop_proof on every grant (src/oidc/dpop.ts).
    if (!unique) rejectReplayedProof(provider, jti);
    return unique;
  };

  // RFC 6749 section 4.1.2.1's temporarily_unavailable, with 503, when the database is down,
  // rather than oidc-provider's generic 500 server_error.
  provider.on('server_error', (ctx, error) => {
    if (isDatabaseError(error)) ctx.state.databaseUnavailable = true;
  });
  const databaseOutage: Middleware = async function databaseOutage(ctx, next) {
    await next();
    if (ctx.status === 500 && ctx.state.databaseUnavailable) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the database is unavailable; try again shortly' };
    }
  };
  const auditRevocation: Middleware = async function auditRevocation(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as { oidc?: { route?: string; client?: { clientId: string } } };
    if (oidc?.route === 'revocation' && ctx.status === 200 && oidc.client) onTokenRevoked?.({ clientId: oidc.client.clientId, ip: ctx.ip });
  };
  const authFailures = clientAuthFailures(rateLimiter, config.clientAuthFailureLimit);
  // A JWT is live while everything behind it is: the API key it was exchanged from (and that
  // key's owner), the grant it was issued from, the person it speaks for, the client it was
  // issued to. Each lookup but the grant's is cached for a second.
  const jwtIsLive = async (payload: Record<string, unknown>): Promise<boolean> => {
    const { api_key_id, grant_ref, sub, client_id } = payload;
    if (typeof client_id !== 'string' || !(await clients.findProviderMetadata(client_id))) return false;
    if (typeof api_key_id === 'string') return apiKeys.isActive(api_key_id);
    if (typeof grant_ref === 'string') {
      if (!(await grantIsLive(grant_ref))) return false;
      const account = typeof sub === 'string' ? await users.findAccount(sub) : null;
      if (!account || account.disabled) return false;
    }
    return true;
  };
  provider.use(
    fixups(
      {
        // Outermost first; every chain has the outage answer, and anything else only it.
        [TOKEN_PATH]: [authFailures, unauthorizedClientForGrantType, databaseOutage],
        [INTROSPECTION_PATH]: [
          authFailures,
          introspectionLimit(rateLimiter, config.introspectionRateLimit),
          // Outside the two answers below, so that theirs are signed too (RFC 9701).
          signedIntrospection(),
          apiKeyIntrospection(apiKeys, rateLimiter, resources, access),
          jwtIntrospection(config.issuer, keys.publicJwks as never, jwtIsLive),
          databaseOutage,
        ],
        [REVOCATION_PATH]: [authFailures, databaseOutage, auditRevocation],
        [DEVICE_PATH]: [deviceFlow.userCodeLimit, databaseOutage],
        [DEVICE_AUTHORIZATION_PATH]: [deviceFlow.unauthorizedClient, databaseOutage],
      },
      databaseOutage,
    ),
  );
  provider.on('grant.error', (ctx, error) => {
    // A refresh token found already consumed is a reuse: oidc-provider has just revoked the grant.
    const token = ctx.oidc?.entities?.RefreshToken;
    if (ctx.oidc?.params?.grant_type === 'refresh_token' && token?.consumed && error instanceof errors.InvalidGrant) {
      onRefreshTokenReuse?.({ clientId: token.clientId ?? '', accountId: token.accountId, grantId: token.grantId, ip: ctx.ip });
    }
  });

  // Client secrets are stored as keyed hashes: `client_secret` holds the hash, and a presented
  // secret is hashed and compared in constant time (src/clients/clients.ts), against the
  // previous secret too while a rotation's grace period lasts.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: Client, presented: string) {
    return Promise.resolve(clients.verifySecret(portcullisClient(this), presented));
  };

  return provider;
}
