// The inputs of the client service, in RFC 7591's field names (plus Portcullis's `name` and
// `public`, and the extension fields Portcullis keeps in the client's metadata). The admin API
// validates requests with these schemas and documents them in OpenAPI; the CLI maps its flags
// onto the same fields; the service parses with them. Each limit and default is written here once.
import { z } from 'zod';
import { connectionName } from '../federation/index.ts';
import { graceSeconds, identifier, scopeText, text, uriText } from '../oauth/index.ts';

export const supportedGrantTypes = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
  // RFC 8693, for trading an API key or a person's access token for a JWT access token (src/oidc/apiKeys.ts).
  'urn:ietf:params:oauth:grant-type:token-exchange',
  // RFC 8628, for devices without a browser (src/oidc/deviceFlow.ts).
  'urn:ietf:params:oauth:grant-type:device_code',
] as const;
export type GrantType = (typeof supportedGrantTypes)[number];
export const secretAuthMethods = ['client_secret_basic', 'client_secret_post'] as const;
export const authMethods = [...secretAuthMethods, 'private_key_jwt'] as const;
export type AuthMethod = (typeof authMethods)[number] | 'none';
/** Security profiles a client can be registered under; each turns on every rule it needs (rules.ts). */
export const clientProfiles = ['fapi2'] as const;
export type ClientProfile = (typeof clientProfiles)[number];

const grantType = z.enum(supportedGrantTypes, {
  error: (issue) => `${JSON.stringify(issue.input)} is not one of ${supportedGrantTypes.join(', ')}`,
});
const clientName = text(200).trim().min(1, 'is required').describe('display name, shown on the consent page');
const uris = z.array(uriText);
const requireMfa = z.boolean().describe('every sign-in to this client needs a second factor (an authenticator app or a passkey)');
/** Only the syntax: whether the connection exists is asked at each sign-in (it may be made after the client, or deleted). */
const loginConnection = connectionName
  .nullable()
  .describe('the one connection people sign in to this client through (no password or passkey form); null: none');
/** The organization the client belongs to: its client-credentials tokens and its keys carry `organization_id`. */
const organizationId = identifier
  .nullable()
  .describe('the organization the client belongs to (machine-to-machine access for that tenant); null: none');
/** A JWK Set: the keys' shape and that none is private are the service's rule (validateJwks). */
const jwkSet = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

export const clientCreateSchema = z.object({
  name: clientName,
  grant_types: z.array(grantType).min(1, 'at least one grant type is required'),
  redirect_uris: uris.default([]),
  post_logout_redirect_uris: uris.default([]).describe('where RP-initiated logout may send the user afterwards'),
  scope: scopeText.default('').describe('the API scopes the client may ask for'),
  public: z.boolean().default(false).describe('a browser or native app: no secret, PKCE only'),
  token_endpoint_auth_method: z
    .enum(authMethods, { error: () => `must be one of ${authMethods.join(', ')}` })
    .optional()
    .describe('client_secret_basic unless told (none for a public client)'),
  jwks: jwkSet.optional().describe('the public keys of a private_key_jwt client (RFC 7523)'),
  default_resource: uriText.optional().describe('the audience tokens are for when a request names none'),
  always_issue_refresh_token: z.boolean().default(false).describe('refresh tokens even without offline_access'),
  require_pushed_authorization_requests: z
    .boolean()
    .default(false)
    .describe('authorization requests only through the PAR endpoint (RFC 9126 section 6)'),
  dpop_bound_access_tokens: z.boolean().default(false).describe('every token request needs a DPoP proof (RFC 9449 section 5.2)'),
  profile: z
    .enum(clientProfiles, { error: () => `must be one of ${clientProfiles.join(', ')}` })
    .optional()
    .describe('fapi2: the FAPI 2.0 Security Profile (private_key_jwt, PAR, DPoP, PKCE S256)'),
  require_mfa: requireMfa.default(false),
  login_connection: loginConnection.optional(),
  organization_id: organizationId.optional(),
});
/** What a caller passes to `clients.create` (defaults may be left out). */
export type ClientCreateInput = z.input<typeof clientCreateSchema>;

export const clientUpdateSchema = z.object({
  name: clientName.optional(),
  redirect_uris: uris.optional(),
  post_logout_redirect_uris: uris.optional(),
  scope: scopeText.optional(),
  require_mfa: requireMfa.optional(),
  /** null clears it. */
  login_connection: loginConnection.optional(),
  /** null clears it. */
  organization_id: organizationId.optional(),
});
export type ClientUpdateInput = z.input<typeof clientUpdateSchema>;

export const clientSecretRotateSchema = z.object({ grace_seconds: graceSeconds });

/**
 * A client id its owner chose (configuration as code names clients by id, so that a file
 * applied to another server makes the same clients). Generated ids (base64url, starting with a
 * letter or digit) pass; like them, a chosen one never starts with "-" or "_", since it is typed
 * as a command-line argument.
 */
export const clientIdText = text(200)
  .min(1, 'is required')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~-]*$/, 'must start with a letter or digit and hold only letters, digits and . _ ~ -')
  .describe('the client id');
/** A generated secret is 256 bits (43 characters of base64url); one given from outside must be no weaker than 192. */
export const MIN_GIVEN_SECRET_LENGTH = 32;
export const givenSecretText = text(1000)
  .min(MIN_GIVEN_SECRET_LENGTH, `must be at least ${MIN_GIVEN_SECRET_LENGTH} characters (e.g. openssl rand -base64 32)`)
  .refine((value) => value.trim() === value, 'must not begin or end with white space')
  .describe('a client secret made elsewhere (stored only as its keyed hash)');

/** What a creation may be told instead of generating it: the id, the secret. */
export const clientGivenSchema = z.object({ client_id: clientIdText.optional(), client_secret: givenSecretText.optional() });
export type ClientGiven = z.input<typeof clientGivenSchema>;
export const clientSecretSetSchema = z.object({ client_secret: givenSecretText });
export type ClientSecretSetInput = z.input<typeof clientSecretSetSchema>;
export type ClientSecretRotateInput = z.input<typeof clientSecretRotateSchema>;

/**
 * A client's metadata as stored (the `metadata` column): what oidc-provider is given, in its
 * names. Parsed once when read (readMetadata), so nothing downstream casts it. Loose: a row may
 * carry metadata oidc-provider understands that no surface sets yet (set in the row by an
 * operator), and it must reach oidc-provider and survive an update.
 */
const storedClientFields = {
  client_name: z.string(),
  grant_types: z.array(z.enum(supportedGrantTypes)),
  redirect_uris: z.array(z.string()).default([]),
  response_types: z.array(z.literal('code')).default([]),
  scope: z.string().default(''),
  token_endpoint_auth_method: z.enum([...authMethods, 'none']),
  jwks: jwkSet.optional(),
  default_resource: z.string().optional(),
  post_logout_redirect_uris: z.array(z.string()).optional(),
  always_issue_refresh_token: z.boolean().optional(),
  require_pushed_authorization_requests: z.boolean().optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
  profile: z.enum(clientProfiles).optional(),
  require_mfa: z.boolean().optional(),
  login_connection: z.string().optional(),
  organization_id: z.string().optional(),
  application_type: z.enum(['web', 'native']).optional(),
};
export const storedClientMetadataSchema = z.looseObject(storedClientFields);
/** The stored metadata's named fields: what the rules write, and what an update replaces. */
export const storedClientFieldNames: ReadonlySet<string> = new Set(Object.keys(storedClientFields));
/** The named fields of stored metadata (without the loose rest, which `Omit` would flatten). */
export type StoredClientFields = z.output<z.ZodObject<typeof storedClientFields>>;
export type StoredClientMetadata = z.output<typeof storedClientMetadataSchema>;
