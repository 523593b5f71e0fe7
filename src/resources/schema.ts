// The inputs of the API-resource service, in the wire's names, with the bounds of an access
// token's lifetime. What makes an audience (RFC 8707) and which personal-key scopes an API may
// offer are the service's rules.
import { z } from 'zod';
import { scopeText, text, uriText } from '../oauth/index.ts';

export const DEFAULT_ACCESS_TOKEN_TTL = 15 * 60;
export const MIN_ACCESS_TOKEN_TTL = 60;
/** RFC 9700 section 2.2 asks for short-lived access tokens; an hour is the most Portcullis issues. */
export const MAX_ACCESS_TOKEN_TTL = 60 * 60;

const ttlBounds = `must be a whole number of seconds from ${MIN_ACCESS_TOKEN_TTL} to ${MAX_ACCESS_TOKEN_TTL}`;
const personalKeyScope = scopeText.describe('scopes people may put on API keys of their own for this API (empty: none)');

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
});
export type ResourceCreateInput = z.input<typeof resourceCreateSchema>;

export const resourceUpdateSchema = z.object({ personal_key_scope: personalKeyScope });
export type ResourceUpdateInput = z.input<typeof resourceUpdateSchema>;
