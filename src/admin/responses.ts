// What the admin API answers: one zod schema per summary the services return. They document the
// responses in the OpenAPI document and type each handler's return value (the handler must return
// what its schema accepts), and test/admin checks the running server's answers against them. The
// services own the values; these schemas only describe them, so they are strict objects: a field
// a service adds without saying so here fails that test instead of going undocumented.
import { z } from 'zod';

/** An instant as the services write it (ISO 8601, from Date.toISOString). */
const instant = z.string().describe('ISO 8601');
const optionalInstant = instant.nullable();

export const clientSummary = z.strictObject({
  client_id: z.string(),
  name: z.string(),
  public: z.boolean(),
  grant_types: z.array(z.string()),
  redirect_uris: z.array(z.string()),
  scope: z.string(),
  token_endpoint_auth_method: z.string(),
  default_resource: z.string().nullable(),
  require_pushed_authorization_requests: z.boolean(),
  dpop_bound_access_tokens: z.boolean(),
  profile: z.enum(['fapi2']).nullable().describe('the security profile the client was registered under'),
  require_mfa: z.boolean().describe('every sign-in to the client needs a second factor'),
  login_connection: z.string().nullable().describe('the one connection people sign in to the client through (null: none)'),
  organization_id: z.string().nullable().describe('the organization the client belongs to (null: none)'),
  registered: z.boolean().describe('made by dynamic client registration (RFC 7591), not by an administrator'),
  created_at: instant,
});

export const createdClient = z.strictObject({
  client_id: z.string(),
  client_secret: z.string().optional().describe('shown only this once; none for a public or private_key_jwt client'),
});

export const rotatedClientSecret = z.strictObject({
  client_id: z.string(),
  client_secret: z.string().describe('shown only this once'),
  previous_secret_expires_at: instant.describe('until when the previous secret is still accepted'),
});

export const userSummary = z.strictObject({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  disabled: z.boolean(),
  email_verified: z.boolean(),
  mfa_required: z.boolean().describe('every sign-in needs a second factor, whatever the client and MFA say'),
  created_at: instant,
});

/** A person's second factors: which they have and when they were used, never a secret. */
export const factorSummary = z.strictObject({
  totp: z
    .strictObject({ created_at: instant, last_used_at: optionalInstant })
    .nullable()
    .describe('the authenticator app, once confirmed (null: none)'),
  passkeys: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string(),
      synced: z.boolean().describe('a synced passkey (backed up to several devices) rather than one bound to its device'),
      created_at: instant,
      last_used_at: optionalInstant,
    }),
  ),
  recovery_codes_left: z.number().int().describe('unused recovery codes'),
});

export const createdUser = z.strictObject({ id: z.string() });

export const sessionSummary = z.strictObject({ created_at: instant, expires_at: optionalInstant });

export const resourceSummary = z.strictObject({
  id: z.string(),
  audience: z.string(),
  name: z.string().nullable(),
  scope: z.string(),
  personal_key_scope: z.string(),
  exchange_clients: z.array(z.string()).describe("the clients that may exchange a person's access token for this API (RFC 8693)"),
  rbac: z.boolean().describe('people, clients and API keys get only the scopes their roles give on this API'),
  roles_claim: z.boolean().describe("this API's access tokens carry a roles claim"),
  access_token_ttl: z.number().int(),
  created_at: instant,
});

const apiKeyFields = {
  id: z.string(),
  name: z.string(),
  display_prefix: z.string().describe('the start of the key, to recognise it by'),
  owner: z.strictObject({ type: z.enum(['user', 'client']), id: z.string() }).nullable(),
  organization_id: z.string().nullable().describe('the organization that owns the key (then owner is null), or null'),
  scope: z.string(),
  audiences: z.array(z.string()),
  rate_limit: z.string().nullable(),
  created_at: instant,
  expires_at: optionalInstant,
  last_used_at: optionalInstant,
  use_count: z.number().int(),
  revoked_at: optionalInstant,
};
const theKey = z.string().describe('the API key, shown only this once');

export const apiKeySummary = z.strictObject(apiKeyFields);
export const createdApiKey = z.strictObject({ ...apiKeyFields, key: theKey });
export const rotatedApiKey = z.strictObject({
  ...apiKeyFields,
  key: theKey,
  previous_key_expires_at: instant.describe('until when the previous key still works'),
});

export const signingKeySummary = z.strictObject({
  kid: z.string(),
  alg: z.string(),
  state: z.enum(['next', 'current', 'previous', 'retired']),
  created_at: instant,
  activated_at: optionalInstant,
  deactivated_at: optionalInstant,
  retired_at: optionalInstant,
});

export const keyRotation = z.strictObject({
  current: z.string().describe('the kid that signs now'),
  next: z.string(),
  previous: z.string(),
  retired: z.array(z.string()),
});

export const grantSummary = z.strictObject({
  id: z.string(),
  account_id: z.string(),
  client_id: z.string(),
  scope: z.string().describe('OpenID Connect scopes granted'),
  resources: z.record(z.string(), z.string()).describe('API scopes granted, by audience'),
  expires_at: optionalInstant,
});

export const revokedGrants = z.strictObject({ revoked: z.number().int().describe('how many grants were revoked') });

export const auditEvent = z.strictObject({
  id: z.string(),
  at: instant,
  type: z.string(),
  actorType: z.enum(['user', 'client', 'admin', 'system', 'initial_access_token']),
  actorId: z.string().optional(),
  subject: z.string().optional(),
  ip: z.string().optional(),
  userAgent: z.string().optional(),
  outcome: z.enum(['success', 'failure']),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const auditPage = z.strictObject({
  events: z.array(auditEvent),
  next_cursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
});

/** A connection to an upstream identity provider: every setting but its client secret, which is never shown. */
export const connectionResponse = z.strictObject({
  id: z.string(),
  name: z.string(),
  type: z.enum(['oidc', 'oauth2']),
  preset: z.string().nullable().describe('the preset it was made from (github, google, microsoft, gitlab)'),
  display_name: z.string(),
  issuer: z.string().nullable(),
  authorization_url: z.string().nullable(),
  token_url: z.string().nullable(),
  userinfo_url: z.string().nullable(),
  client_id: z.string(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post']),
  scope: z.string(),
  claim_mapping: z.record(z.string(), z.string()).describe('which upstream claim becomes each local field'),
  trust_email_verified: z.boolean(),
  create_accounts: z.boolean(),
  store_tokens: z.boolean(),
  enabled: z.boolean(),
  position: z.number().int(),
  callback_url: z.string().describe('the redirect URI to register upstream'),
  created_at: instant,
  updated_at: instant,
});

export const deletedConnection = z.strictObject({
  identities: z.number().int().describe('how many linked identities were removed with it'),
});

/** An account at an upstream identity provider, linked to a person (never the upstream's tokens). */
export const identitySummary = z.strictObject({
  id: z.string(),
  connection: z.string().describe("the connection's name"),
  display_name: z.string(),
  email: z.string().nullable().describe('the address the upstream gave at the last sign-in'),
  has_tokens: z.boolean().describe("the upstream's tokens are kept for this identity (a connection with store_tokens)"),
  created_at: instant,
  last_used_at: optionalInstant,
});

/** The upstream's tokens kept for a linked identity (store_tokens), for an integration that calls the upstream's APIs. */
export const upstreamTokens = z.strictObject({
  access_token: z.string(),
  refresh_token: z.string().optional(),
  expires_at: z.number().int().optional().describe('seconds since the epoch'),
  scope: z.string().optional(),
  id_token: z.string().optional(),
});

const permissionList = z.array(z.string()).describe('scopes of registered APIs, each AUDIENCE:SCOPE, sorted');

const roleFields = {
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  default: z.boolean().describe('given to every account made from now on'),
  permissions: permissionList,
  created_at: instant,
};

/** A role: a named set of permissions people and clients hold (what an API with rbac reads). */
export const roleSummary = z.strictObject(roleFields);
export const roleDetail = z.strictObject({
  ...roleFields,
  users: z.number().int().describe('how many people hold it'),
  clients: z.number().int().describe('how many clients hold it'),
});
export const roleAssigned = z.strictObject({ assigned: z.boolean().describe('false: the holder had it already (nothing changed)') });
export const roleUnassigned = z.strictObject({ unassigned: z.boolean().describe('false: the holder did not have it (nothing changed)') });
export const roleNames = z.array(z.string()).describe('the names of the roles held, sorted');

const organizationFields = {
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  created_by: z.string().nullable().describe('the person who made it (null: an administrator)'),
  created_at: instant,
  resource: z.string().describe('the resource indicator an app names to get a token for this organization'),
};

export const organizationSummary = z.strictObject(organizationFields);
export const organizationDetail = z.strictObject({ ...organizationFields, members: z.number().int().describe('how many members it has') });

/** A role of the template every organization offers. */
export const organizationRoleSummary = z.strictObject({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  manage_keys: z.boolean().describe("its holders manage the organization's API keys and invitations"),
  permissions: permissionList,
  created_at: instant,
});

export const memberSummary = z.strictObject({
  user_id: z.string(),
  email: z.string().nullable(),
  roles: z.array(z.string()).describe('organization roles held there, sorted'),
  joined_at: instant,
});

/** An invitation to join an organization (never its link, which only the invited address receives). */
export const organizationInvitation = z.strictObject({
  id: z.string(),
  organization_id: z.string(),
  email: z.string(),
  roles: z.array(z.string()).describe('organization roles the person gets on accepting'),
  expires_at: instant,
  accepted_at: optionalInstant,
  revoked_at: optionalInstant,
  created_at: instant,
});
