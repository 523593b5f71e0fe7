// The rules of a client's settings that span fields: which grant types go together, which
// redirect URIs a kind of client may use, whose keys it may register. The schemas (schema.ts)
// check each field alone; these run on the parsed result, at creation and again after an update
// is merged into what is stored, and name the field at fault as the wire spells it.
import type { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { normalizeScope, parseInput, validateAudience } from '../oauth/index.ts';
import {
  clientCreateSchema,
  clientGivenSchema,
  secretAuthMethods,
  type AuthMethod,
  type ClientCreateInput,
  type ClientProfile,
  type GrantType,
  type StoredClientFields,
} from './schema.ts';

/** A client's settings, parsed: what creation receives, and what an update is merged into. */
export type ClientSettings = z.output<typeof clientCreateSchema>;
type JwkSet = NonNullable<ClientSettings['jwks']>;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Schemes a browser runs or reads locally: never a place to send an authorization code. */
const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:']);
const PUBLIC_KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);
/** The grants through which a person signs in and consents, and so the ones a refresh token can continue. */
const PERSON_GRANTS: ReadonlySet<GrantType> = new Set(['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code']);

export function validateRedirectUri(uri: string, isPublic: boolean, field: 'redirect_uris' | 'post_logout_redirect_uris'): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new InputError(field, `${JSON.stringify(uri)} is not an absolute URI`);
  }
  if (url.hash || uri.includes('#')) throw new InputError(field, 'must not contain a fragment (RFC 6749 section 3.1.2)');
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new InputError(field, 'http: is allowed only for loopback addresses; use https:');
  }
  // RFC 8252 section 7.1: native apps may use a private-use scheme; web clients may not.
  if (!isPublic && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputError(field, 'a confidential client needs an https: redirect URI');
  }
  if (DANGEROUS_SCHEMES.has(url.protocol)) throw new InputError(field, `${url.protocol} URIs are not allowed`);
}

/** A public JWK Set: RSA, EC or OKP keys, none with a private part. */
function validateJwks(jwks: JwkSet | undefined): JwkSet {
  if (!jwks || jwks.keys.length === 0) throw new InputError('jwks', 'private_key_jwt needs a JWK Set with at least one key');
  for (const key of jwks.keys) {
    if (typeof key.kty !== 'string' || !PUBLIC_KEY_TYPES.has(key.kty)) {
      throw new InputError('jwks', 'each key must be an RSA, EC or OKP public JWK');
    }
    if ('d' in key || 'p' in key || 'k' in key) throw new InputError('jwks', 'must hold public keys only: a private key was given');
  }
  return jwks;
}

function validateUris(uris: string[], isPublic: boolean, field: 'redirect_uris' | 'post_logout_redirect_uris'): string[] {
  const unique = [...new Set(uris)];
  for (const uri of unique) validateRedirectUri(uri, isPublic, field);
  return unique;
}

/**
 * Checks the rules across a client's settings and returns its metadata as stored (and given to
 * oidc-provider). Throws InputError naming the wire field at fault.
 */
export function clientMetadata(settings: ClientSettings): StoredClientFields {
  const grantTypes = [...new Set(settings.grant_types)];
  const isPublic = settings.public;
  if (isPublic && grantTypes.includes('client_credentials')) {
    throw new InputError('grant_types', 'a public client cannot use client_credentials: it has no secret to authenticate with');
  }
  // A refresh token continues a person's grant: one given through the code flow or, on a device
  // without a browser, through the device flow (RFC 8628).
  if (grantTypes.includes('refresh_token') && !grantTypes.some((grant) => PERSON_GRANTS.has(grant))) {
    throw new InputError('grant_types', 'refresh_token needs authorization_code or urn:ietf:params:oauth:grant-type:device_code');
  }
  const redirectUris = validateUris(settings.redirect_uris, isPublic, 'redirect_uris');
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new InputError('redirect_uris', 'authorization_code needs at least one redirect URI');
  }
  const postLogoutRedirectUris = validateUris(settings.post_logout_redirect_uris, isPublic, 'post_logout_redirect_uris');
  if (settings.always_issue_refresh_token && !grantTypes.includes('refresh_token')) {
    throw new InputError('always_issue_refresh_token', 'needs the refresh_token grant');
  }
  // A public client has no secret and no keys: it authenticates with its id alone (PKCE only).
  const authMethod: AuthMethod = isPublic ? 'none' : (settings.token_endpoint_auth_method ?? 'client_secret_basic');
  if (authMethod !== 'private_key_jwt' && settings.jwks !== undefined) {
    throw new InputError('jwks', 'is only for clients that authenticate with private_key_jwt');
  }
  const jwks = authMethod === 'private_key_jwt' ? validateJwks(settings.jwks) : undefined;
  const fapi2 = settings.profile === 'fapi2';
  if (fapi2) checkFapi2(settings, grantTypes, authMethod);
  const defaultResource =
    settings.default_resource === undefined ? undefined : validateAudience(settings.default_resource, 'default_resource');
  return {
    client_name: settings.name,
    grant_types: grantTypes,
    redirect_uris: redirectUris,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    scope: normalizeScope(settings.scope),
    token_endpoint_auth_method: authMethod,
    // Always written, empty too: an update that empties the list must not leave the old one.
    post_logout_redirect_uris: postLogoutRedirectUris,
    ...(jwks ? { jwks } : {}),
    ...(defaultResource ? { default_resource: defaultResource } : {}),
    ...(settings.always_issue_refresh_token ? { always_issue_refresh_token: true } : {}),
    // A native app (RFC 8252) with a private-use scheme is one to oidc-provider too: a `web`
    // client may only have http(s) redirect URIs (OpenID Connect Registration section 2).
    ...(isPublic && redirectUris.some((uri) => !/^https?:/i.test(uri)) ? { application_type: 'native' as const } : {}),
    // The FAPI 2.0 profile implies both (its section 5.3.2.2: PAR only; 5.3.2.1: sender-constrained tokens, here DPoP).
    ...(settings.require_pushed_authorization_requests || fapi2 ? { require_pushed_authorization_requests: true } : {}),
    ...(settings.dpop_bound_access_tokens || fapi2 ? { dpop_bound_access_tokens: true } : {}),
    ...(fapi2 ? { profile: 'fapi2' as const } : {}),
    // Written only when on, like the flags above: a client made before the setting reads as off.
    ...(settings.require_mfa ? { require_mfa: true } : {}),
    ...(settings.login_connection ? { login_connection: settings.login_connection } : {}),
    ...(settings.organization_id ? { organization_id: settings.organization_id } : {}),
  };
}

/**
 * FAPI 2.0 Security Profile (final, 2025) for one client: a confidential client (section 5.3.3.1)
 * that authenticates with private_key_jwt (5.3.3.4; mTLS is not offered here), using the code
 * flow (5.3.2.2). PAR, PKCE S256 and DPoP follow from the profile (oidc-provider's fapi profile,
 * chosen per client in src/oidc/provider.ts, and the two flags set above).
 */
function checkFapi2(settings: ClientSettings, grantTypes: GrantType[], authMethod: AuthMethod): void {
  if (settings.public) throw new InputError('profile', 'fapi2 needs a confidential client (FAPI 2.0 section 5.3.3.1)');
  if (authMethod !== 'private_key_jwt') {
    throw new InputError('token_endpoint_auth_method', 'the fapi2 profile needs private_key_jwt (FAPI 2.0 section 5.3.3.4)');
  }
  const allowed = new Set<GrantType>(['authorization_code', 'refresh_token', 'client_credentials']);
  const other = grantTypes.find((grant) => !allowed.has(grant));
  if (other)
    throw new InputError(
      'grant_types',
      `${other} is not part of the fapi2 profile (authorization_code, refresh_token, client_credentials)`,
    );
}

/** The settings a stored client was made with: what an update's changes are merged into. */
export function settingsOf(row: { name: string; public: boolean }, stored: StoredClientFields): ClientSettings {
  return {
    name: row.name,
    grant_types: stored.grant_types,
    redirect_uris: stored.redirect_uris,
    post_logout_redirect_uris: stored.post_logout_redirect_uris ?? [],
    scope: stored.scope,
    public: row.public,
    token_endpoint_auth_method: stored.token_endpoint_auth_method === 'none' ? undefined : stored.token_endpoint_auth_method,
    jwks: stored.jwks,
    default_resource: stored.default_resource,
    always_issue_refresh_token: stored.always_issue_refresh_token === true,
    require_pushed_authorization_requests: stored.require_pushed_authorization_requests === true,
    dpop_bound_access_tokens: stored.dpop_bound_access_tokens === true,
    profile: stored.profile,
    require_mfa: stored.require_mfa === true,
    login_connection: stored.login_connection ?? null,
    organization_id: stored.organization_id ?? null,
  };
}

/**
 * A client described whole, in the wire's names: what `portcullis export` writes for it and what
 * an entry of an applied file becomes once the rules of creation have normalised it, so that the
 * two compare field by field. Never a secret.
 */
export interface ClientDefinition {
  client_id: string;
  name: string;
  public: boolean;
  grant_types: GrantType[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  scope: string;
  /** `none` for a public client. */
  token_endpoint_auth_method: AuthMethod;
  jwks?: JwkSet;
  default_resource?: string;
  always_issue_refresh_token: boolean;
  require_pushed_authorization_requests: boolean;
  dpop_bound_access_tokens: boolean;
  profile?: ClientProfile;
  /** Present (true) only when every sign-in to the client needs a second factor, as `profile` only when there is one. */
  require_mfa?: true;
  /** Present only when the client is signed in to through one connection alone. */
  login_connection?: string;
  /** Present only when the client belongs to an organization. */
  organization_id?: string;
}

/** A stored client (or metadata just made by the rules) as its definition. */
export function definitionOf(clientId: string, row: { name: string; public: boolean }, stored: StoredClientFields): ClientDefinition {
  return {
    client_id: clientId,
    name: row.name,
    public: row.public,
    grant_types: stored.grant_types,
    redirect_uris: stored.redirect_uris,
    post_logout_redirect_uris: stored.post_logout_redirect_uris ?? [],
    scope: stored.scope,
    token_endpoint_auth_method: stored.token_endpoint_auth_method,
    ...(stored.jwks ? { jwks: stored.jwks } : {}),
    ...(stored.default_resource ? { default_resource: stored.default_resource } : {}),
    always_issue_refresh_token: stored.always_issue_refresh_token === true,
    require_pushed_authorization_requests: stored.require_pushed_authorization_requests === true,
    dpop_bound_access_tokens: stored.dpop_bound_access_tokens === true,
    ...(stored.profile ? { profile: stored.profile } : {}),
    ...(stored.require_mfa === true ? { require_mfa: true as const } : {}),
    ...(stored.login_connection ? { login_connection: stored.login_connection } : {}),
    ...(stored.organization_id ? { organization_id: stored.organization_id } : {}),
  };
}

/**
 * What creating (or replacing) `clientId` with `input` would make, checked by the rules of
 * creation without touching the database: the id's syntax and every rule across the settings.
 * Whether a default resource exists is the service's check (it needs the database).
 */
export function clientDefinition(clientId: string, input: ClientCreateInput): ClientDefinition {
  const { client_id: id } = parseInput(clientGivenSchema, { client_id: clientId });
  const settings = parseInput(clientCreateSchema, input);
  return definitionOf(id!, { name: settings.name, public: settings.public }, clientMetadata(settings));
}

const SECRET_METHODS: ReadonlySet<string> = new Set(secretAuthMethods);
/** Whether a client of this method authenticates with a secret Portcullis keeps (a hash of). */
export const usesSecret = (method: string) => SECRET_METHODS.has(method);

/**
 * The fields of `before` that a replacement by `after` changes, in the definition's order; throws
 * when the change is one a client cannot make in place. A public client has no secret and a
 * private_key_jwt client none either, so turning one into a secret client (or back) would need a
 * secret made, or one dropped, behind the owner's back: it is a new client.
 */
export function replacedFields(before: ClientDefinition, after: ClientDefinition): (keyof ClientDefinition)[] {
  if (before.public !== after.public) {
    throw new InputError('public', `cannot change on an existing client (${before.public} to ${after.public}): register a new client`);
  }
  if (usesSecret(before.token_endpoint_auth_method) !== usesSecret(after.token_endpoint_auth_method)) {
    throw new InputError(
      'token_endpoint_auth_method',
      `cannot change from ${before.token_endpoint_auth_method} to ${after.token_endpoint_auth_method} on an existing client: register a new client`,
    );
  }
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof ClientDefinition>;
  return [...keys].filter((key) => canonicalJson(before[key]) !== canonicalJson(after[key]));
}

/** JSON with every object's keys sorted: PostgreSQL's jsonb does not keep the order a JWK was written in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([one], [other]) => (one < other ? -1 : one > other ? 1 : 0)))
      : item,
  );
}
