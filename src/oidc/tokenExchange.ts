// RFC 8693 token exchange: one grant type, two kinds of subject, told apart by subject_token_type.
// - An API key (src/oidc/apiKeys.ts) becomes a short-lived JWT for an API its owner may use.
// - A person's access token, issued by this server, becomes a token for another API for the same
//   person: impersonation (section 1.1), or with an `actor_token` of the calling client,
//   delegation, where the new token's `act` claim names the client (section 4.1).
// The second is an administrator's choice per API: only the clients listed on the target API
// (`exchange_clients`, src/resources) may exchange for it, only confidential ones, and never for
// more than the person's token carried. Each such exchange is reported for the audit log.
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { scopeWords } from '../oauth/index.ts';
import type { AccessRules } from './access.ts';
import type { ApiResourceSummary, ResourceService } from '../resources/index.ts';
import { ACCESS_TOKEN_TYPE, API_KEY_TOKEN_TYPE } from './apiKeys.ts';
import { portcullisClient, type Client } from './clientMetadata.ts';
import { bindToDpopKey, verifyDpopProof } from './dpop.ts';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The request parameters of RFC 8693 section 2.1 (oidc-provider drops any other). */
export const tokenExchangeParameters = new Set([
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
]);
/** Section 2.1 lets both name several targets; the grant accepts one and says so (invalid_target). */
export const tokenExchangeDuplicates = new Set(['resource', 'audience']);

type Grant = (ctx: KoaContextWithOIDC) => Promise<void>;

/**
 * The grant: dispatches on subject_token_type. Any other type, a refresh token's or an ID
 * token's among them, is invalid_request: section 2.2.2 names that code for a request that is
 * not valid, and section 3's types are the only names this server gives its tokens.
 */
export function createTokenExchangeGrant({
  apiKey,
  person,
  looksLikeApiKey,
}: {
  apiKey: Grant;
  person: Grant;
  looksLikeApiKey: (token: string) => boolean;
}): Grant {
  return async function tokenExchange(ctx) {
    const params = ctx.oidc.params as Record<string, unknown>;
    switch (params.subject_token_type) {
      case API_KEY_TOKEN_TYPE:
        // Delegation is for a person's token: an API key already speaks for whoever holds it, and
        // an actor silently dropped would turn a request for delegation into impersonation.
        if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
          throw new errors.InvalidRequest(`actor_token is accepted only with subject_token_type ${ACCESS_TOKEN_TYPE}`);
        }
        return apiKey(ctx);
      case ACCESS_TOKEN_TYPE:
        // An API key presented as an access token is a mistake of the request, not a bad grant.
        if (typeof params.subject_token === 'string' && looksLikeApiKey(params.subject_token)) {
          throw new errors.InvalidRequest(`the subject_token is an API key: its subject_token_type is ${API_KEY_TOKEN_TYPE}`);
        }
        return person(ctx);
      default:
        throw new errors.InvalidRequest(
          `subject_token_type must be ${ACCESS_TOKEN_TYPE} (a person's access token) or ${API_KEY_TOKEN_TYPE} (an API key)`,
        );
    }
  };
}

/** One exchange of a person's token, as the audit log records it: who, for whom, for what; never a token. */
export interface PersonTokenExchange {
  /** The client that exchanged (and to which the new token is issued). */
  clientId: string;
  /** The person the new token speaks for. */
  subject: string;
  /** The client the person's token had been issued to. */
  subjectClientId: string;
  audience: string;
  scope: string;
  /** Delegation (the token's `act` names the client) or impersonation. */
  mode: 'delegation' | 'impersonation';
  ip: string;
}

/** The claims of a verified access token this server issued (RFC 9068), with Portcullis's own. */
type AccessTokenClaims = JWTPayload & {
  sub: string;
  client_id: string;
  exp: number;
  scope?: unknown;
  grant_ref?: unknown;
  api_key_id?: unknown;
  act?: unknown;
  acr?: unknown;
  amr?: unknown;
  auth_time?: unknown;
};

/** The claims the JWT customizer (src/oidc/provider.ts) puts on the exchanged token. */
export interface ExchangedClaims {
  sub: string;
  /** The person's grant, so that revoking it ends this token too (introspection's jwtIsLive). */
  grant_ref: string;
  act?: unknown;
  /** How the person signed in, as the subject token says (an API behind may require a second factor too). */
  acr?: unknown;
  amr?: unknown;
  auth_time?: unknown;
}

export interface PersonTokenExchangeDependencies {
  issuer: string;
  /** The keys this server signs with, published at /jwks: a token they do not verify is not ours. */
  publicJwks: JSONWebKeySet;
  resources: ResourceService;
  resourceServer: (resource: ApiResourceSummary) => object;
  /** Whether the grant, person and client behind a verified token are still live (as introspection asks). */
  isLive: (payload: Record<string, unknown>) => Promise<boolean>;
  /** An API with rbac gives the person only what their roles give (src/oidc/access.ts). */
  access: Pick<AccessRules, 'permitted'>;
  onExchanged?: (exchange: PersonTokenExchange) => void;
}

const nowInSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The exchange of a person's access token. Every refusal is RFC 6749 section 5.2's shape: a token
 * that is expired, revoked, forged, another issuer's, not a JWT access token (a refresh token, an
 * ID token) or not a person's is invalid_grant, as for an API key that fails (RFC 8693 section
 * 2.2.2 allows other codes "as appropriate", and invalid_grant is RFC 6749's for a grant that is
 * "invalid, expired, revoked"); a request missing a parameter or mixing them is invalid_request.
 */
export function createPersonTokenExchange({
  issuer,
  publicJwks,
  resources,
  resourceServer,
  isLive,
  access,
  onExchanged,
}: PersonTokenExchangeDependencies): Grant {
  const keys = createLocalJWKSet(publicJwks);

  /** A JWT access token of this server's, verified and still live; anything else is invalid_grant. */
  async function liveAccessToken(token: unknown, which: 'subject_token' | 'actor_token'): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token === '') throw new errors.InvalidRequest(`${which} is required`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, { issuer, typ: 'at+jwt', requiredClaims: ['exp', 'sub', 'client_id'] }));
    } catch (error) {
      throw new errors.InvalidGrant(
        error instanceof joseErrors.JWTExpired ? `the ${which} has expired` : `the ${which} is not an access token issued by this server`,
      );
    }
    if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string') {
      throw new errors.InvalidGrant(`the ${which} is not an access token issued by this server`);
    }
    // A database failure here is not the token's fault: it propagates (503, src/oidc/provider.ts).
    if (!(await isLive(payload))) throw new errors.InvalidGrant(`the ${which} has been revoked`);
    return payload as AccessTokenClaims;
  }

  /**
   * The one API the token is for: `resource` or `audience` (RFC 8693 section 2.1), or the
   * client's default resource, and one this client may exchange for.
   */
  async function targetOf(params: Record<string, unknown>, client: Client): Promise<ApiResourceSummary> {
    const named = [...new Set([params.resource, params.audience].flat().filter((value) => value !== undefined))];
    if (named.length > 1) throw new errors.InvalidTarget('name exactly one API, with resource or audience');
    const audience = named[0] ?? portcullisClient(client).defaultResource;
    if (typeof audience !== 'string') throw new errors.InvalidTarget('name the API with the resource or audience parameter');
    const resource = await resources.findByAudience(audience);
    if (!resource) throw new errors.InvalidTarget('resource is not a registered API');
    // invalid_target rather than unauthorized_client: RFC 8693 section 2.2.2 says invalid_target
    // SHOULD be used when the server is "unwilling or unable to issue a token for any target
    // service indicated by the resource or audience parameters", which is exactly this refusal;
    // RFC 6749's unauthorized_client is about the grant type as a whole, and a client without
    // this grant type gets it already (src/oidc/standardErrors.ts).
    if (!resource.exchange_clients.includes(client.clientId)) {
      throw new errors.InvalidTarget("this client may not exchange a person's token for this API");
    }
    return resource;
  }

  return async function exchangePersonToken(ctx) {
    // DPoP first (RFC 9449 sections 4.3, 5, 5.2, 11.1), as in every grant of ours.
    const dpop = await verifyDpopProof(ctx);
    const params = ctx.oidc.params as Record<string, unknown>;
    const { provider } = ctx.oidc;
    const client = ctx.oidc.client!;
    if (params.requested_token_type !== undefined && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`requested_token_type can only be ${ACCESS_TOKEN_TYPE}`);
    }
    if (typeof params.subject_token !== 'string' || params.subject_token === '')
      throw new errors.InvalidRequest('subject_token is required');
    // Section 2.1: actor_token_type is required with an actor_token and must not come without one.
    const delegated = params.actor_token !== undefined;
    if (delegated !== (params.actor_token_type !== undefined)) {
      throw new errors.InvalidRequest('actor_token and actor_token_type are given together or not at all');
    }
    if (delegated && params.actor_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest(`actor_token_type can only be ${ACCESS_TOKEN_TYPE}`);
    }
    // A public client proves nothing about who it is, and a person's token is worth more than an
    // API key's caller: only a client that authenticates may speak for a person.
    if (client.clientAuthMethod === 'none') {
      throw new errors.UnauthorizedClient("only a confidential client may exchange a person's access token");
    }

    const resource = await targetOf(params, client);
    const subject = await liveAccessToken(params.subject_token, 'subject_token');
    // A person's token names its grant; a client's own token (client credentials) or one exchanged
    // for an API key speaks for no person, and is exchanged as what it is, if at all.
    if (typeof subject.grant_ref !== 'string' || subject.api_key_id !== undefined) {
      throw new errors.InvalidGrant("the subject_token is not a person's access token");
    }
    let act: unknown = subject.act;
    let actorExpires = Infinity;
    if (delegated) {
      const actor = await liveAccessToken(params.actor_token, 'actor_token');
      // The actor is the calling client itself (section 4.1), shown by a token of its own: issued
      // to it and speaking for it (client credentials), not a person's, nor another client's.
      if (actor.client_id !== client.clientId || actor.sub !== client.clientId || actor.grant_ref !== undefined) {
        throw new errors.InvalidGrant('the actor_token is not an access token of this client');
      }
      // Section 4.1: a prior actor (the subject token's own act) is nested, most recent outermost.
      act = { sub: client.clientId, ...(subject.act === undefined ? {} : { act: subject.act }) };
      actorExpires = actor.exp;
    }
    // Without an actor, the subject token's own act (if any) stays: an exchange never hides who acts.

    // Scopes never widen: at most what the person's token carries, the API accepts and the
    // client was registered for. Nothing in common is invalid_scope, not an empty token.
    const clientScope = portcullisClient(client).allowedScope;
    const resourceScope = new Set(scopeWords(resource.scope));
    const permitted = await access.permitted(resource, { type: 'user', id: subject.sub });
    const grantable = new Set(
      scopeWords(subject.scope).filter(
        (scope) => resourceScope.has(scope) && clientScope.has(scope) && (!permitted || permitted.has(scope)),
      ),
    );
    const asked = [...new Set(scopeWords(params.scope))];
    const requested = asked.length ? asked : [...grantable];
    if (requested.length === 0) {
      throw new errors.InvalidScope("none of the subject token's scope is accepted by this API for this client", resource.scope);
    }
    const refused = requested.find((scope) => !grantable.has(scope));
    if (refused !== undefined) {
      throw new errors.InvalidScope(
        scopeWords(subject.scope).includes(refused)
          ? 'requested scope is not accepted by this API for this client'
          : "requested scope is wider than the subject token's",
        refused,
      );
    }
    const scope = requested.join(' ');

    // Never outlives the person's token (nor the actor's), nor the API's lifetime.
    const left = Math.min(subject.exp, actorExpires) - nowInSeconds();
    const ttl = Math.max(1, Math.min(resource.access_token_ttl, left));
    const token = new provider.ClientCredentials({ client, scope });
    token.resourceServer = new provider.ResourceServer(resource.audience, resourceServer({ ...resource, access_token_ttl: ttl }) as never);
    const claims: ExchangedClaims = {
      sub: subject.sub,
      grant_ref: subject.grant_ref,
      ...(act === undefined ? {} : { act }),
      ...(subject.acr === undefined ? {} : { acr: subject.acr }),
      ...(subject.amr === undefined ? {} : { amr: subject.amr }),
      ...(subject.auth_time === undefined ? {} : { auth_time: subject.auth_time }),
    };
    // Read by the JWT customizer (src/oidc/provider.ts).
    Object.assign(token, { exchangedClaims: claims });
    // A proof binds the new token to the caller's key: cnf.jkt, token_type DPoP (RFC 9449 sections 5, 6.1).
    // A DPoP-bound subject token is accepted without its key's proof: the service it was sent to
    // never holds the app's key, and what vouches for the exchange is the calling client's own
    // authentication and the administrator's list, not possession of the person's token alone.
    bindToDpopKey(token, dpop);
    ctx.oidc.entity('ClientCredentials', token);
    const value = await token.save();
    onExchanged?.({
      clientId: client.clientId,
      subject: subject.sub,
      subjectClientId: subject.client_id,
      audience: resource.audience,
      scope,
      mode: delegated ? 'delegation' : 'impersonation',
      ip: ctx.ip,
    });
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope,
    };
  };
}
