// The one rule for a password a person chooses, on every surface (sign-up, reset, change, the
// CLI, the admin API): NIST SP 800-63B section 3.1.1.2. At least 8 characters and at most 1024
// (a bound on hashing work, far above any passphrase), no composition rules, and refused when it
// is one of the 49,233 common passwords of @zxcvbn-ts/language-common (a list from breaches) or
// the account's own email (or the part before its @).
import { dictionary } from '@zxcvbn-ts/language-common';

/** Characters (code points, as people count them) a password has at least and at most. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
/**
 * A bound in UTF-16 units that no password the rule accepts goes past (a code point is at most
 * two): what checks before the rule (a login, a schema) may refuse without counting characters.
 */
export const MAX_PASSWORD_UNITS = 2 * MAX_PASSWORD_LENGTH;

export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'email';

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((word) => word.toLowerCase()));
  return common;
}

/** What is wrong with `password` for the account of `email`, or undefined when it may be used. */
export function passwordProblem(password: string, email?: string | null): PasswordProblem | undefined {
  // Characters as people count them (code points), as NIST asks; past the bound in UTF-16 units
  // it is too long whatever it holds (and is not spread into an array to find out).
  if (password.length > MAX_PASSWORD_UNITS) return 'too_long';
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (length > MAX_PASSWORD_LENGTH) return 'too_long';
  const folded = password.normalize('NFKC').toLowerCase();
  if (commonPasswords().has(folded)) return 'common';
  if (email) {
    const address = email.trim().toLowerCase();
    if (folded === address || folded === address.split('@')[0]) return 'email';
  }
  return undefined;
}

/** The sentence an API or the CLI says for each problem (pages say it from the catalogue). */
export const PASSWORD_PROBLEM_TEXT: Record<PasswordProblem, string> = {
  too_short: `must be at least ${MIN_PASSWORD_LENGTH} characters`,
  too_long: `must be at most ${MAX_PASSWORD_LENGTH} characters`,
  common: 'is one of the most common passwords; choose another',
  email: 'must not be your email address',
};
