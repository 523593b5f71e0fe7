// What a person's name may be, wherever it is typed (sign-up, an invitation, the account page):
// one line of text PostgreSQL can store, at most MAX_NAME_LENGTH characters as people count
// them. No control characters (C0, C1), no Unicode line or paragraph separators, no half of a
// surrogate pair: a name is shown in pages and mails, and must not start a new line there.
import { hasControlCharacters, isStorableText } from '../oauth/index.ts';

export const MAX_NAME_LENGTH = 200;

const NOT_ONE_LINE = /[\u0080-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type NameProblem = 'invalid' | 'too_long';

/** What is wrong with a name (already trimmed), or undefined when it may be used; an empty name is none. */
export function nameProblem(name: string | null | undefined): NameProblem | undefined {
  if (!name) return undefined;
  if (!isStorableText(name) || hasControlCharacters(name) || NOT_ONE_LINE.test(name)) return 'invalid';
  if ([...name].length > MAX_NAME_LENGTH) return 'too_long';
  return undefined;
}
