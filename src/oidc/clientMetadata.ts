// The one reading of the metadata Portcullis adds to oidc-provider's Client (declared as
// extraClientMetadata in provider.ts, written by the client service's findProviderMetadata).
// oidc-provider keeps a Client instance for as long as its metadata is unchanged, so what is
// read here is remembered per instance: the token, introspection and secret checks that run on
// every request read it without allocating.
import type Provider from 'oidc-provider';
import { scopeWords } from '../oauth/index.ts';

/**
 * Client metadata Portcullis adds to RFC 7591's (declared as extraClientMetadata in provider.ts,
 * written by src/clients/clients.ts findProviderMetadata, read here; never part of a registration
 * answer: src/oidc/registration.ts).
 */
export const PORTCULLIS_METADATA = [
  'allowed_scope',
  'default_resource',
  'always_issue_refresh_token',
  'previous_secret_hash',
  'previous_secret_expires_at',
  'profile',
  'require_mfa',
  'login_connection',
  'organization_id',
] as const;

/** oidc-provider's Client (its type is not exported by name). */
export type Client = InstanceType<Provider['Client']>;

export interface PortcullisClient {
  /** The API scopes the client may ask for (its registered `scope`); read-only, it is shared. */
  allowedScope: ReadonlySet<string>;
  /** The audience of tokens for which a request names no resource. */
  defaultResource?: string;
  /** Refresh tokens even without offline_access. */
  alwaysIssueRefreshToken: boolean;
  /** The security profile the client was registered under (src/clients/rules.ts). */
  profile?: 'fapi2';
  /** Every sign-in to this client needs a second factor (an administrator's setting, src/clients). */
  requireMfa: boolean;
  /** The one connection every sign-in to this client goes through (an administrator's setting, src/clients). */
  loginConnection?: string;
  /** The organization the client belongs to: its client-credentials tokens carry organization_id. */
  organizationId?: string;
  /** The HMAC of the current secret. */
  secretHash?: string;
  /** The HMAC of the secret before the last rotation, while its grace period lasts. */
  previousSecretHash?: string;
  /** When that grace period ends, in seconds since the epoch. */
  previousSecretExpiresAt?: number;
}

const read = new WeakMap<Client, PortcullisClient>();

const stringOf = (value: unknown) => (typeof value === 'string' ? value : undefined);

function readClient(client: Client): PortcullisClient {
  const expiresAt = client.previous_secret_expires_at;
  return {
    allowedScope: new Set(scopeWords(client.allowed_scope)),
    defaultResource: stringOf(client.default_resource),
    alwaysIssueRefreshToken: client.always_issue_refresh_token === true,
    profile: client.profile === 'fapi2' ? 'fapi2' : undefined,
    requireMfa: client.require_mfa === true,
    loginConnection: stringOf(client.login_connection),
    organizationId: stringOf(client.organization_id),
    secretHash: client.clientSecret,
    previousSecretHash: stringOf(client.previous_secret_hash),
    previousSecretExpiresAt: typeof expiresAt === 'number' ? expiresAt : undefined,
  };
}

/** Portcullis's metadata of an oidc-provider client. */
export function portcullisClient(client: Client): PortcullisClient {
  let metadata = read.get(client);
  if (!metadata) {
    metadata = readClient(client);
    read.set(client, metadata);
  }
  return metadata;
}
