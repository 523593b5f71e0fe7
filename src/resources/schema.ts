// The inputs of the API-resource service, in the wire's names, with the bounds of an access
// token's lifetime. What makes an audience (RFC 8707), which personal-key scopes an API may
// offer and which clients may exchange people's tokens for it are the service's rules.
import { z } from 'zod';
import { identifier, scopeText, text, uriText } from '../oauth/index.ts';

export const DEFAULT_ACCESS_TOKEN_TTL = 15 * 60;
export const MIN_ACCESS_TOKEN_TTL = 60;
/** RFC 9700 section 2.2 asks for short-lived access tokens; an hour is the most Portcullis issues. */
export const MAX_ACCESS_TOKEN_TTL = 60 * 60;

const ttlBounds = `must be a whole number of seconds from ${MIN_ACCESS_TOKEN_TTL} to ${MAX_ACCESS_TOKEN_TTL}`;
const personalKeyScope = scopeText.describe('scopes people may put on API keys of their own for this API (empty: none)');
/** At most this many clients may exchange people's tokens for one API: a list, not a directory. */
export const MAX_EXCHANGE_CLIENTS = 100;
const exchangeClients = z
  .array(identifier.regex(/^\S+$/, 'must be a client id (no white space)'))
  .max(MAX_EXCHANGE_CLIENTS, `must name at most ${MAX_EXCHANGE_CLIENTS} clients`)
  .describe("clients that may exchange a person's access token for a token for this API (RFC 8693; empty: none)");

const rbac = z.boolean().describe('role-based access: people, clients and keys get only the scopes their roles give');
const rolesClaim = z.boolean().describe("its access tokens carry `roles`: the subject's roles that give a scope of this API");

export const resourceCreateSchema = z.object({
  audience: uriText.describe('the resource indicator clients ask for (RFC 8707): an absolute URI'),
  scope: scopeText,
  ttl: z
    .number()
    .int(ttlBounds)
    .min(MIN_ACCESS_TOKEN_TTL, ttlBounds)
    .max(MAX_ACCESS_TOKEN_TTL, ttlBounds)
    .default(DEFAULT_ACCESS_TOKEN_TTL)
    .describe('access token lifetime in seconds'),
  name: text(200).optional(),
  personal_key_scope: personalKeyScope.default(''),
  exchange_clients: exchangeClients.default([]),
  rbac: rbac.default(false),
  roles_claim: rolesClaim.default(false),
});
export type ResourceCreateInput = z.input<typeof resourceCreateSchema>;

/** Any of the settings; a list given replaces the one before. */
export const resourceUpdateSchema = z.object({
  personal_key_scope: personalKeyScope.optional(),
  exchange_clients: exchangeClients.optional(),
  rbac: rbac.optional(),
  roles_claim: rolesClaim.optional(),
});
export type ResourceUpdateInput = z.input<typeof resourceUpdateSchema>;
