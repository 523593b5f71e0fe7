// What people do with their own accounts, by mail: one-time links and codes (tokens.ts), and
// the flows built on them (sign-up, verification, forgotten passwords, invitations, email
// changes, export and deletion).
export {
  createAccountTokens,
  MAX_CODE_FAILURES,
  TOKEN_LIFETIME_SECONDS,
  type AccountTokens,
  type TokenCheck,
  type TokenPurpose,
} from './tokens.ts';
export {
  CODE_LIMITS,
  createSelfService,
  MAIL_LIMITS,
  MAX_INVITATION_SECONDS,
  type CodeOutcome,
  type FormProblem,
  type LinkOutcome,
  type MailOutcome,
  type SelfService,
  type Visitor,
} from './selfService.ts';
export { ACCOUNT_CLIENT_ID, accountCallbackUrl, accountClientMetadata, type SessionSummary } from './sessions.ts';
export { maskEmail, type EmailChangeResult } from './emailChange.ts';
export { pseudonymOf } from './deletion.ts';
export { createOwnAccount, type OwnAccount } from './ownAccount.ts';
