// Ready-made connections for the identity providers people ask for most, as data: what an
// operator would otherwise copy from each provider's documentation. A preset fills in the type,
// endpoints or issuer, scopes and claim mapping; the operator adds the client id and secret (and,
// for Microsoft Entra ID, the tenant's issuer), and may override any field.
import type { ClaimMapping, ConnectionType } from './fields.ts';

export interface Preset {
  type: ConnectionType;
  displayName: string;
  /** OpenID Connect: the issuer, when it is the same for every customer. */
  issuer?: string;
  /** How the issuer is written when it depends on the customer (Entra ID's tenant). */
  issuerHint?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  userinfoUrl?: string;
  scope: string;
  claimMapping: ClaimMapping;
  trustEmailVerified: boolean;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
}

export const PRESETS = {
  // GitHub is OAuth 2.0 only: its user API answers `id` (a number), `login`, `name` and the
  // public `email`, which may be empty and says nothing of verification.
  github: {
    type: 'oauth2',
    displayName: 'GitHub',
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    userinfoUrl: 'https://api.github.com/user',
    scope: 'read:user user:email',
    claimMapping: { subject: 'id', email: 'email', name: 'name' },
    trustEmailVerified: false,
    tokenEndpointAuthMethod: 'client_secret_post',
  },
  google: {
    type: 'oidc',
    displayName: 'Google',
    issuer: 'https://accounts.google.com',
    scope: 'openid email profile',
    claimMapping: { subject: 'sub', email: 'email', name: 'name', email_verified: 'email_verified' },
    trustEmailVerified: true,
    tokenEndpointAuthMethod: 'client_secret_basic',
  },
  // One tenant's issuer: the multi-tenant "common" document names a templated issuer that no
  // ID token carries, so the tenant must be given (--issuer).
  microsoft: {
    type: 'oidc',
    displayName: 'Microsoft',
    issuerHint: 'https://login.microsoftonline.com/TENANT_ID/v2.0',
    scope: 'openid email profile',
    // Entra ID's `email` is whatever the tenant's administrator typed: never taken as verified.
    claimMapping: { subject: 'sub', email: 'email', name: 'name' },
    trustEmailVerified: false,
    tokenEndpointAuthMethod: 'client_secret_post',
  },
  gitlab: {
    type: 'oidc',
    displayName: 'GitLab',
    issuer: 'https://gitlab.com',
    scope: 'openid email profile',
    claimMapping: { subject: 'sub', email: 'email', name: 'name', email_verified: 'email_verified' },
    trustEmailVerified: true,
    tokenEndpointAuthMethod: 'client_secret_basic',
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const presetNames = Object.keys(PRESETS) as PresetName[];
