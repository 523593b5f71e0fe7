// Second factors and passkeys: an authenticator app (TOTP), recovery codes, WebAuthn credentials.
export { createFactorService, deleteFactorsOf, factorSummaryOf, type FactorServiceOptions } from './service.ts';
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
