// The inputs of the API-key service, in the wire's names, with their bounds and defaults. The
// rules that need the database or the configuration (audiences, owners, people's keys) are in
// rules.ts; the syntax of a rate is the limits room's (parseRateLimit).
import { z } from 'zod';
import { isRateLimit } from '../limits/index.ts';
import { graceSeconds, optionalText, scopeText, text, uriText } from '../oauth/index.ts';

/** A key lives from one minute to five years when its lifetime is given. */
export const MIN_KEY_SECONDS = 60;
export const MAX_KEY_SECONDS = 5 * 365 * 86_400;
const lifetimeBounds = 'must be from 1 minute to 5 years';

export const apiKeyCreateSchema = z.object({
  name: text(200).trim().min(1, 'is required').describe('what the key is for'),
  scope: scopeText,
  audiences: z.array(uriText).default([]).describe('the APIs the key may be used for (none: any)'),
  expires_in_seconds: z
    .number()
    .int(lifetimeBounds)
    .min(MIN_KEY_SECONDS, lifetimeBounds)
    .max(MAX_KEY_SECONDS, lifetimeBounds)
    .optional()
    .describe("lifetime (default: none, or USER_API_KEY_DEFAULT_DAYS for a person's key)"),
  owner_user_id: optionalText(text(200)).describe('the person the key acts for'),
  owner_client_id: optionalText(text(200)).describe('the client the key identifies'),
  organization_id: optionalText(text(200)).describe('the organization that owns the key (then it has no other owner)'),
  rate_limit: optionalText(
    text(40).refine((value) => value === '' || isRateLimit(value), 'is not a rate such as 100/1m (at most one day per window)'),
  ).describe('requests allowed per window, e.g. 100/1m'),
});
export type ApiKeyCreateInput = z.input<typeof apiKeyCreateSchema>;

export const apiKeyRotateSchema = z.object({ grace_seconds: graceSeconds });
export type ApiKeyRotateInput = z.input<typeof apiKeyRotateSchema>;
