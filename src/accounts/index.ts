// What people do with their own accounts, by mail: one-time links and codes (tokens.ts), and
// the flows built on them (sign-up, verification, forgotten passwords, invitations, email
// changes, export and deletion).
export { createAccountTokens, MAX_CODE_FAILURES, TOKEN_LIFETIME_SECONDS, type AccountTokens, type TokenCheck, type TokenPurpose } from './tokens.ts';
