// A connection described whole, in the wire's names, and the rules of one that need neither the
// database nor the upstream: what a preset and the defaults fill in, each type's fields, https in
// production, the scope, the mapping. The connection service applies them when it saves, and the
// manifest (portcullis apply) to compare a file's entry with the server's connection as created.
import type { z } from 'zod';
import { InputError } from '../errors/index.ts';
import { normalizeScope, scopeWords } from '../oauth/index.ts';
import type { ClaimMapping } from './fields.ts';
import { PRESETS, type Preset } from './presets.ts';
import type { connectionCreateSchema, ConnectionView } from './schema.ts';

/** A connection described whole: the service's view without what the server assigns. */
export type ConnectionDefinition = Omit<ConnectionView, 'id' | 'callback_url' | 'created_at' | 'updated_at'>;

/** The settings of a create: its input, parsed (defaults filled), without the secret. */
export type ConnectionSettings = Omit<z.output<typeof connectionCreateSchema>, 'client_secret'>;

/** The mapping when neither the input nor a preset gives one: OpenID Connect's standard claims. */
const DEFAULT_MAPPING: ClaimMapping = { subject: 'sub', email: 'email', name: 'name', email_verified: 'email_verified' };

export const presetOf = (name: string | null | undefined): Preset | undefined =>
  name && Object.hasOwn(PRESETS, name) ? (PRESETS as Record<string, Preset>)[name] : undefined;

/** What is filled in for what a create leaves out: the preset's, else the defaults. */
export function defaultsOf(type: ConnectionDefinition['type'], preset: Preset | undefined) {
  return {
    display_name: preset?.displayName,
    issuer: preset?.issuer ?? null,
    authorization_url: preset?.authorizationUrl ?? null,
    token_url: preset?.tokenUrl ?? null,
    userinfo_url: preset?.userinfoUrl ?? null,
    token_endpoint_auth_method: preset?.tokenEndpointAuthMethod ?? ('client_secret_basic' as const),
    scope: preset?.scope ?? (type === 'oidc' ? 'openid email profile' : ''),
    claim_mapping: preset?.claimMapping ?? DEFAULT_MAPPING,
    trust_email_verified: preset?.trustEmailVerified ?? false,
  };
}

/** An upstream URL: absolute http(s), https in production, no fragment or credentials. */
function checkedUrl(field: string, value: string | null, production: boolean): string | null {
  if (value === null) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(field, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InputError(field, 'must be an https: URL');
  if (production && url.protocol !== 'https:') throw new InputError(field, 'must be an https: URL in production');
  if (url.hash) throw new InputError(field, 'must not have a fragment');
  if (url.username || url.password) throw new InputError(field, 'must not carry a user name or password');
  return value;
}

/**
 * The rules across a whole connection's fields (a create's, or a connection with an update's
 * changes): each type's endpoints, the URLs, the scope, the mapping's subject. Returns it with
 * the scope normalized; throws InputError naming the field at fault. `production` refuses http:.
 */
export function checkedDefinition(definition: ConnectionDefinition, { production }: { production: boolean }): ConnectionDefinition {
  const issuer = checkedUrl('issuer', definition.issuer, production);
  const endpoints = {
    authorization_url: checkedUrl('authorization_url', definition.authorization_url, production),
    token_url: checkedUrl('token_url', definition.token_url, production),
    userinfo_url: checkedUrl('userinfo_url', definition.userinfo_url, production),
  };
  const scope = normalizeScope(definition.scope, 'scope');
  if (definition.type === 'oidc') {
    if (!issuer) throw new InputError('issuer', 'is required for an OpenID Connect connection');
    for (const [field, value] of Object.entries(endpoints))
      if (value) throw new InputError(field, 'is for OAuth 2.0 connections: an OpenID Connect one takes its endpoints from discovery');
    if (!scopeWords(scope).includes('openid')) throw new InputError('scope', 'must include openid for an OpenID Connect connection');
  } else {
    for (const [field, value] of Object.entries(endpoints))
      if (!value) throw new InputError(field, 'is required for an OAuth 2.0 connection');
  }
  if (!definition.claim_mapping.subject) throw new InputError('claim_mapping', 'subject must name an upstream claim');
  return { ...definition, issuer, ...endpoints, scope };
}

/** What creating the connection `settings` describes makes (a preset's fields, then the defaults), checked. */
export function connectionDefinition(settings: ConnectionSettings, options: { production: boolean }): ConnectionDefinition {
  const preset = presetOf(settings.preset);
  const type = settings.type ?? preset?.type;
  if (!type) throw new InputError('type', 'is required (oidc or oauth2), unless a preset gives it');
  if (preset && settings.type && settings.type !== preset.type)
    throw new InputError('type', `must be ${preset.type} for the ${settings.preset} preset`);
  const defaults = defaultsOf(type, preset);
  const displayName = settings.display_name ?? defaults.display_name;
  if (!displayName) throw new InputError('display_name', 'is required');
  const issuer = settings.issuer ?? defaults.issuer;
  if (!issuer && preset?.issuerHint) throw new InputError('issuer', `is required for the ${settings.preset} preset: ${preset.issuerHint}`);
  return checkedDefinition(
    {
      name: settings.name,
      type,
      preset: settings.preset ?? null,
      display_name: displayName,
      issuer,
      authorization_url: settings.authorization_url ?? defaults.authorization_url,
      token_url: settings.token_url ?? defaults.token_url,
      userinfo_url: settings.userinfo_url ?? defaults.userinfo_url,
      client_id: settings.client_id,
      token_endpoint_auth_method: settings.token_endpoint_auth_method ?? defaults.token_endpoint_auth_method,
      scope: settings.scope ?? defaults.scope,
      claim_mapping: { ...defaults.claim_mapping, ...settings.claim_mapping } as ClaimMapping,
      trust_email_verified: settings.trust_email_verified ?? defaults.trust_email_verified,
      create_accounts: settings.create_accounts,
      store_tokens: settings.store_tokens,
      enabled: settings.enabled,
      position: settings.position,
    },
    options,
  );
}

/** The server's connection as its definition. */
export function definitionOfView(view: ConnectionView): ConnectionDefinition {
  const { id: _id, callback_url: _callback, created_at: _created, updated_at: _updated, ...definition } = view;
  return definition;
}
