// The syntax of values several rooms check (scopes, resource indicators, text from outside), and
// the building blocks of their input schemas.
export { GRACE_SECONDS, graceSeconds, identifier, optionalText, parseInput, scopeText, text, timestamp, uriText } from './schemas.ts';
export { hasControlCharacters, isStorableText, normalizeScope, scopeWords, validateAudience } from './values.ts';
