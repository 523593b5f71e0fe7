// The inputs of the user service. NIST SP 800-63B: at least 8 characters, long passphrases
// allowed, no composition rules.
import { z } from 'zod';
import { text } from '../oauth/index.ts';

/** RFC 5321's 64 characters before the @ and 255 after it; the service checks the rest of what makes an address. */
export const MAX_EMAIL_LENGTH = 320;
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export const password = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`);

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

export const userPasswordSchema = z.object({ password });
export type UserPasswordInput = z.input<typeof userPasswordSchema>;

/** Email addresses are compared lower-case and without surrounding space. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
