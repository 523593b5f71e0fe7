// Second factors and passkeys: an authenticator app (TOTP), recovery codes, WebAuthn credentials.
export type {
  AuthenticationMethod,
  CeremonyBinding,
  CodeCheck,
  Enrolled,
  EnrolProblem,
  FactorService,
  FactorSummary,
  PasskeyCheck,
  PasskeyProblem,
  PasskeySummary,
  TotpEnrolment,
} from './types.ts';
