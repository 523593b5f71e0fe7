// Where API keys meet OAuth: introspection answers for them (RFC 7662), and the token endpoint
// trades one for a short-lived JWT access token (RFC 8693 token exchange, dispatched here from
// src/oidc/tokenExchange.ts), so resource servers can check either with the introspection
// endpoint, or the JWT with nothing but the JWKS.
import type { Middleware } from 'koa';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { looksLikeApiKey, type ApiKeyService, type VerifiedApiKey } from '../apikeys/index.ts';
import type { RateLimiter } from '../limits/index.ts';
import { scopeWords } from '../oauth/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { portcullisClient } from './clientMetadata.ts';
import type { AccessRules } from './access.ts';
import { bindToDpopKey, verifyDpopProof } from './dpop.ts';

/** The `subject_token_type` that names a Portcullis API key in a token exchange. */
export const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
/** RFC 8693 section 3: the token type of an OAuth access token, issued or presented. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** 429 in the error shape of every OAuth endpoint; the thrower sets Retry-After. */
export class RateLimited extends errors.OIDCProviderError {
  constructor(what: string, retryAfterSeconds: number) {
    super(429, 'rate_limited');
    this.error_description = `${what}; retry after ${retryAfterSeconds} s`;
  }
}

async function limit(rateLimiter: RateLimiter, key: VerifiedApiKey, ctx: { set(name: string, value: string): void }): Promise<void> {
  if (!key.rate_limit) return;
  const verdict = await rateLimiter.consume(key.id, key.rate_limit);
  if (!verdict.allowed) {
    ctx.set('Retry-After', String(verdict.retryAfterSeconds));
    throw new RateLimited("this API key's rate limit is reached", verdict.retryAfterSeconds);
  }
}

/**
 * Introspection of API keys. oidc-provider authenticates the caller and, not knowing the key,
 * answers `active: false`; this step then answers for the key instead.
 */
/**
 * A key's scope as its owner's roles stand now: on the APIs it names that decide by roles, only
 * what the roles give (a key naming several APIs keeps a scope some API it names still gives). A
 * key naming no API, or without an owner, is as it was made.
 */
async function scopeNow(
  key: VerifiedApiKey,
  resources: Pick<ResourceService, 'findByAudience'>,
  access: Pick<AccessRules, 'permitted'>,
): Promise<string> {
  if (!key.owner || key.audiences.length === 0) return key.scope;
  const owner = key.owner;
  const given = new Set<string>();
  let narrowed = false;
  for (const audience of key.audiences) {
    const resource = await resources.findByAudience(audience);
    if (!resource) continue;
    const permitted = await access.permitted(resource, owner);
    if (permitted) narrowed = true;
    for (const scope of scopeWords(resource.scope)) if (!permitted || permitted.has(scope)) given.add(scope);
  }
  return narrowed
    ? scopeWords(key.scope)
        .filter((scope) => given.has(scope))
        .join(' ')
    : key.scope;
}

export function apiKeyIntrospection(
  apiKeys: ApiKeyService,
  rateLimiter: RateLimiter,
  resources: Pick<ResourceService, 'findByAudience'>,
  access: Pick<AccessRules, 'permitted'>,
): Middleware {
  return async function introspectApiKey(ctx, next) {
    await next();
    const { oidc } = ctx as unknown as KoaContextWithOIDC;
    const token = oidc?.params?.token;
    const body = ctx.body as { active?: boolean } | undefined;
    if (oidc?.route !== 'introspection' || !oidc.client || body?.active !== false || typeof token !== 'string') return;
    if (!looksLikeApiKey(token, [apiKeys.prefix])) return;
    // RFC 7662 section 2.1: a public client may not introspect, whatever the token is.
    if (oidc.client.clientAuthMethod === 'none') return;
    const verified = await apiKeys.verify(token, { ip: ctx.ip });
    if (!verified.ok) return; // stays { active: false }
    const { key } = verified;
    try {
      await limit(rateLimiter, key, ctx);
    } catch (error) {
      if (!(error instanceof RateLimited)) throw error;
      ctx.status = 429;
      ctx.body = { error: error.error, error_description: error.error_description };
      return;
    }
    ctx.body = {
      active: true,
      token_type: 'api_key',
      scope: await scopeNow(key, resources, access),
      sub: key.subject,
      ...(key.owner?.type === 'client' ? { client_id: key.owner.id } : {}),
      ...(key.organization_id ? { organization_id: key.organization_id } : {}),
      ...(key.audiences.length ? { aud: key.audiences.length === 1 ? key.audiences[0] : key.audiences } : {}),
      iat: Math.floor(Date.parse(key.created_at) / 1000),
      ...(key.expires_at ? { exp: Math.floor(Date.parse(key.expires_at) / 1000) } : {}),
      api_key_id: key.id,
    };
  };
}

/**
 * RFC 8693 token exchange of an API key for a JWT access token for one API (the request's
 * subject_token_type is the API key's). The caller authenticates as a client allowed this grant
 * type (a public client may, with its id alone); the token's `sub` is the key's owner, its scope
 * at most the key's, its audience one the key may be used for.
 */
export function createApiKeyExchange(
  apiKeys: ApiKeyService,
  rateLimiter: RateLimiter,
  resources: ResourceService,
  resourceServer: (resource: NonNullable<Awaited<ReturnType<ResourceService['findByAudience']>>>) => object,
  access: Pick<AccessRules, 'permitted'>,
) {
  return async function exchangeApiKey(ctx: KoaContextWithOIDC): Promise<void> {
    // DPoP first (RFC 9449 sections 4.3, 5, 5.2, 11.1): a bad, replayed or missing-but-required
    // proof is refused before the key is looked up or a rate-limit point is spent.
    const dpop = await verifyDpopProof(ctx);
    const params = ctx.oidc.params as Record<string, unknown>;
    if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type can only be ${ACCESS_TOKEN_TYPE}`);
    }
    if (typeof params.subject_token !== 'string') throw new errors.InvalidRequest('subject_token is required');
    const verified = await apiKeys.verify(params.subject_token, { ip: ctx.ip });
    if (!verified.ok) throw new errors.InvalidGrant('the API key is not valid');
    const { key } = verified;
    await limit(rateLimiter, key, ctx);

    let indicator = params.resource ?? params.audience;
    if (Array.isArray(indicator)) {
      if (indicator.length !== 1) throw new errors.InvalidTarget('exactly one resource may be named');
      indicator = indicator[0];
    }
    if (indicator === undefined && key.audiences.length === 1) indicator = key.audiences[0];
    if (typeof indicator !== 'string') throw new errors.InvalidTarget('name the API with the resource parameter');
    if (key.audiences.length && !key.audiences.includes(indicator))
      throw new errors.InvalidTarget('the API key may not be used for this resource');
    const resource = await resources.findByAudience(indicator);
    if (!resource) throw new errors.InvalidTarget('resource is not a registered API');

    // At most what the key carries, the API accepts, and the exchanging client was registered for.
    const clientScope = portcullisClient(ctx.oidc.client!).allowedScope;
    const resourceScope = scopeWords(resource.scope);
    // An API with rbac: a key speaks for its owner, so it carries at most what the owner's roles give now.
    const permitted = key.owner ? await access.permitted(resource, key.owner) : undefined;
    const grantable = new Set(
      scopeWords(key.scope).filter(
        (scope) => resourceScope.includes(scope) && clientScope.has(scope) && (!permitted || permitted.has(scope)),
      ),
    );
    const requested = typeof params.scope === 'string' ? [...new Set(scopeWords(params.scope))] : [...grantable];
    const refused = requested.find((scope) => !grantable.has(scope));
    if (refused !== undefined) {
      const byRoles = permitted && scopeWords(key.scope).includes(refused) && !permitted.has(refused);
      throw new errors.InvalidScope(
        byRoles ? "requested scope is not given by the key owner's roles" : 'requested scope is wider than the API key allows',
        refused,
      );
    }

    const scope = requested.join(' ') || undefined;
    const { provider, client } = ctx.oidc;
    const token = new provider.ClientCredentials({ client: client!, ...(scope ? { scope } : {}) });
    // The JWT never outlives the key it came from.
    const keyLeft = key.expires_at ? Math.floor((Date.parse(key.expires_at) - Date.now()) / 1000) : Infinity;
    const ttl = Math.max(1, Math.min(resource.access_token_ttl, keyLeft));
    token.resourceServer = new provider.ResourceServer(resource.audience, resourceServer({ ...resource, access_token_ttl: ttl }) as never);
    // Read by the JWT customizer (src/oidc/provider.ts): the token speaks for the key's owner.
    Object.assign(token, {
      apiKeySubject: key.subject,
      apiKeyId: key.id,
      ...(key.organization_id ? { organizationId: key.organization_id } : {}),
    });
    // A proof binds the JWT to its key: cnf.jkt, token_type DPoP (RFC 9449 sections 5, 6.1).
    bindToDpopKey(token, dpop);
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      ...(scope ? { scope } : {}),
    };
  };
}
