export { hasControlCharacters, isStorableText, normalizeScope, validateAudience } from './values.ts';
