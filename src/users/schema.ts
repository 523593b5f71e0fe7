// The inputs of the user service. A password is checked by the one rule of passwordRule.ts
// (NIST SP 800-63B: length in code points, no composition rules, not a common password), so
// the admin API and the CLI refuse exactly what the pages refuse, in the same words.
import { z } from 'zod';
import { text } from '../oauth/index.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PASSWORD_PROBLEM_TEXT, passwordProblem } from './passwordRule.ts';

export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH };

/** RFC 5321's 64 characters before the @ and 255 after it; the service checks the rest of what makes an address. */
export const MAX_EMAIL_LENGTH = 320;

/** The password rule without the account's address (the service adds that check once it knows it). */
export const password = z.string().superRefine((value, context) => {
  const problem = passwordProblem(value);
  if (problem) context.addIssue({ code: 'custom', message: PASSWORD_PROBLEM_TEXT[problem] });
});

export const userCreateSchema = z.object({
  email: text(MAX_EMAIL_LENGTH).describe('the login name; stored lower-case'),
  password,
  name: text(200).optional(),
  unverified: z
    .boolean()
    .optional()
    .describe('the person must verify the email before it counts (default: verified, an administrator vouches for it)'),
});
export type UserCreateInput = z.input<typeof userCreateSchema>;

/** What the admin API changes of a person in place. */
export const userUpdateSchema = z.object({
  mfa_required: z
    .boolean({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be true or false') })
    .describe('every sign-in needs a second factor, whatever the client and MFA say (false: as they say)'),
});
export type UserUpdateInput = z.input<typeof userUpdateSchema>;

/** Which of a person's factors an administrator's reset removes (all unless told). */
export const FACTOR_KINDS = ['all', 'totp', 'passkeys', 'recovery_codes'] as const;
export type FactorKind = (typeof FACTOR_KINDS)[number];
export const factorResetSchema = z.object({
  which: z
    .enum(FACTOR_KINDS, { error: () => `must be one of ${FACTOR_KINDS.join(', ')}` })
    .default('all')
    .describe('all, or only the authenticator app (totp), the passkeys or the recovery codes'),
});
export type FactorResetInput = z.input<typeof factorResetSchema>;

export const userPasswordSchema = z.object({ password });
export type UserPasswordInput = z.input<typeof userPasswordSchema>;

/** Email addresses are compared lower-case and without surrounding space. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
