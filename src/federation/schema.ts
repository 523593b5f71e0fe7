// The inputs of the connection service, in the admin API's field names. The admin API validates
// with these schemas and documents them in OpenAPI; the CLI maps its flags onto the same fields;
// the service parses with them. What can be checked only against the rest of the input or the
// upstream (https in production, the discovery document) is the service's rule (connections.ts).
import { z } from 'zod';
import { scopeText, text, uriText } from '../oauth/index.ts';
import { connectionTypes, mappedFields, type ClaimMapping, type ConnectionType } from './fields.ts';
import { presetNames } from './presets.ts';

export { connectionTypes, mappedFields, type ClaimMapping, type ConnectionType };

export const upstreamAuthMethods = ['client_secret_basic', 'client_secret_post'] as const;

const RESERVED_NAMES = ['cancel', 'code'];

/** A connection's name: in the callback URL and the `connection` authorization parameter. */
export const connectionName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit')
  // The sign-in's own steps live beside the connections' paths (/interaction/UID/federation/code).
  .refine((name) => !RESERVED_NAMES.includes(name), 'is a name Portcullis keeps for itself (cancel, code)')
  .describe('the name in the callback URL and the connection authorization parameter');

const claimName = text(100).min(1, 'is required');
const claimMapping = z
  .record(z.string(), z.unknown())
  .superRefine((value, context) => {
    for (const key of Object.keys(value)) {
      if (!(mappedFields as readonly string[]).includes(key))
        context.addIssue({ code: 'custom', message: `${key} is not a field an upstream claim can become (${mappedFields.join(', ')})` });
      else if (!claimName.safeParse(value[key]).success)
        context.addIssue({ code: 'custom', message: `${key} must name an upstream claim (1 to 100 characters)` });
    }
  })
  .transform((value) => value as Partial<ClaimMapping>)
  .describe(`which upstream claim becomes each local field: ${mappedFields.join(', ')}`);

const displayName = text(100).trim().min(1, 'is required').describe('the words on the login page button');
const fields = {
  display_name: displayName,
  issuer: uriText.describe('OpenID Connect: the issuer (its discovery document is fetched and checked)'),
  authorization_url: uriText.describe('OAuth 2.0: the authorization endpoint'),
  token_url: uriText.describe('OAuth 2.0: the token endpoint'),
  userinfo_url: uriText.describe('OAuth 2.0: the endpoint that answers who signed in'),
  client_id: text(500).min(1, 'is required').describe('the client id registered upstream'),
  client_secret: text(2000).min(1, 'is required').describe('the client secret registered upstream (stored sealed, never shown again)'),
  token_endpoint_auth_method: z
    .enum(upstreamAuthMethods, { error: () => `must be one of ${upstreamAuthMethods.join(', ')}` })
    .describe('how Portcullis authenticates at the upstream token endpoint'),
  scope: scopeText.describe('space-separated scopes asked of the upstream'),
  claim_mapping: claimMapping,
  trust_email_verified: z.boolean().describe("believe the upstream's email_verified (a new account's address counts as verified)"),
  create_accounts: z.boolean().describe('a first sign-in makes a local account'),
  store_tokens: z.boolean().describe("keep the upstream's tokens (sealed) to call its APIs later"),
  enabled: z.boolean().describe('offered on the login page and accepted'),
  position: z.number().int('must be a whole number').min(0).max(1000).describe('order on the login page (lowest first)'),
};

export const connectionCreateSchema = z.object({
  name: connectionName,
  type: z.enum(connectionTypes, { error: () => `must be one of ${connectionTypes.join(', ')}` }).optional(),
  preset: z
    .enum(presetNames as [string, ...string[]], { error: () => `must be one of ${presetNames.join(', ')}` })
    .optional()
    .describe(`a ready-made connection: ${presetNames.join(', ')}`),
  display_name: fields.display_name.optional(),
  issuer: fields.issuer.optional(),
  authorization_url: fields.authorization_url.optional(),
  token_url: fields.token_url.optional(),
  userinfo_url: fields.userinfo_url.optional(),
  client_id: fields.client_id,
  client_secret: fields.client_secret,
  token_endpoint_auth_method: fields.token_endpoint_auth_method.optional(),
  scope: fields.scope.optional(),
  claim_mapping: fields.claim_mapping.optional(),
  trust_email_verified: fields.trust_email_verified.optional(),
  create_accounts: fields.create_accounts.default(true),
  store_tokens: fields.store_tokens.default(false),
  enabled: fields.enabled.default(true),
  position: fields.position.default(0),
});
export type ConnectionCreateInput = z.input<typeof connectionCreateSchema>;

export const connectionUpdateSchema = z.object({
  display_name: fields.display_name.optional(),
  issuer: fields.issuer.optional(),
  authorization_url: fields.authorization_url.optional(),
  token_url: fields.token_url.optional(),
  userinfo_url: fields.userinfo_url.optional(),
  client_id: fields.client_id.optional(),
  client_secret: fields.client_secret.optional(),
  token_endpoint_auth_method: fields.token_endpoint_auth_method.optional(),
  scope: fields.scope.optional(),
  claim_mapping: fields.claim_mapping.optional(),
  trust_email_verified: fields.trust_email_verified.optional(),
  create_accounts: fields.create_accounts.optional(),
  store_tokens: fields.store_tokens.optional(),
  enabled: fields.enabled.optional(),
  position: fields.position.optional(),
});
export type ConnectionUpdateInput = z.input<typeof connectionUpdateSchema>;

/** A connection as every surface shows it: never its secret. */
export interface ConnectionView {
  id: string;
  name: string;
  type: ConnectionType;
  preset: string | null;
  display_name: string;
  issuer: string | null;
  authorization_url: string | null;
  token_url: string | null;
  userinfo_url: string | null;
  client_id: string;
  token_endpoint_auth_method: (typeof upstreamAuthMethods)[number];
  scope: string;
  claim_mapping: ClaimMapping;
  trust_email_verified: boolean;
  create_accounts: boolean;
  store_tokens: boolean;
  enabled: boolean;
  position: number;
  /** The redirect URI to register upstream: ISSUER/federation/NAME/callback. */
  callback_url: string;
  created_at: string;
  updated_at: string;
}
