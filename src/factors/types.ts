// What the factors room offers: a person's second factors (an authenticator app, recovery codes,
// passkeys) and the checks a sign-in makes with them. The pages, the admin API and the CLI use
// only these types; src/factors/service.ts builds the service.
import type { Actor } from '../audit/index.ts';

/** RFC 8176 values for how a person proved who they are, as the tokens say them. */
export type AuthenticationMethod = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user' | 'mfa' | 'fed';

/** A passkey as a list shows it (never a key or a counter). */
export interface PasskeySummary {
  id: string;
  name: string;
  /** A synced passkey (multiDevice, backed up) or one bound to its device. */
  synced: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** Which factors a person has, never a secret. */
export interface FactorSummary {
  /** An authenticator app, once confirmed (a pending one is not listed). */
  totp: { createdAt: Date; lastUsedAt: Date | null } | null;
  passkeys: PasskeySummary[];
  /** Unused recovery codes left (0 when none were ever made). */
  recoveryCodesLeft: number;
}

/** A TOTP code's check: `wrong` is counted against the login limits by the caller. */
export type CodeCheck = 'ok' | 'wrong' | 'replayed' | 'malformed' | 'none';

/** What an authenticator app is set up with: shown on the enrolment page, once. */
export interface TotpEnrolment {
  /** The base32 secret, to type by hand. */
  secret: string;
  /** otpauth://totp/… for the QR code. */
  uri: string;
  /** The QR code of `uri` as an inline <svg> element (no script, no style attribute). */
  qrSvg: string;
}

/** The result of a first factor being added: recovery codes when the person had none (shown once). */
export type Enrolled =
  | {
      ok: true;
      recoveryCodes?: string[];
      /** How the new factor counts in amr: `otp` for an app, `hwk`/`swk` for a passkey (as PasskeyCheck). */
      method: 'otp' | 'hwk' | 'swk';
    }
  | { ok: false; problem: EnrolProblem };
export type EnrolProblem =
  'malformed' | 'wrong_code' | 'none_pending' | 'already_enrolled' | 'invalid_response' | 'expired_challenge' | 'name';

/** Where a WebAuthn ceremony happens: the sign-in (interaction uid) or the account session (session uid). */
export interface CeremonyBinding {
  kind: 'interaction' | 'session';
  uid: string;
}

/** A passkey that answered: whose, and how it counts. */
export type PasskeyCheck =
  | {
      ok: true;
      userId: string;
      passkeyId: string;
      /** `swk` for a synced passkey, `hwk` for one bound to its device. */
      method: 'hwk' | 'swk';
      /** The authenticator verified the person (PIN, fingerprint): RFC 8176 `user`. */
      userVerified: boolean;
    }
  | { ok: false; problem: PasskeyProblem };
export type PasskeyProblem =
  /** Not JSON, or not the shape of a WebAuthn response. */
  | 'malformed'
  /** No live challenge of this binding matches (expired, used, or never made here). */
  | 'expired_challenge'
  /** The credential is not registered, or (second factor) is another person's. */
  | 'unknown_credential'
  /** Origin, rp id, signature, user verification or counter refused by the library. */
  | 'invalid_response';

export interface FactorService {
  /** Which factors a person has. */
  summary(userId: string): Promise<FactorSummary>;
  /** A confirmed authenticator app or at least one passkey (recovery codes alone are not a factor). */
  hasSecondFactor(userId: string): Promise<boolean>;

  totp: {
    /** Starts (or restarts) setting up an app: a new unconfirmed secret. `label` is the account's email. */
    begin(userId: string, label: string): Promise<TotpEnrolment>;
    /** The pending setup again (the enrolment page reloaded), or undefined. */
    pending(userId: string, label: string): Promise<TotpEnrolment | undefined>;
    /** Confirms the pending app with a first code. Audit `mfa.totp.enrolled`. */
    confirm(userId: string, code: string, actor: Actor): Promise<Enrolled>;
    /**
     * A code at sign-in or for sudo mode: six digits, this step or one either side, never one at or
     * before the last accepted step (one conditional update, so two instances cannot both accept it).
     */
    verify(userId: string, code: string): Promise<CodeCheck>;
    /** Audit `mfa.totp.removed`; false when there was none. */
    remove(userId: string, actor: Actor): Promise<boolean>;
  };

  recoveryCodes: {
    /** Ten new codes; the old ones stop working. Audit `mfa.recovery_codes.generated`. */
    regenerate(userId: string, actor: Actor): Promise<string[]>;
    /**
     * Uses one code (spaces, dashes and case ignored). Audit `mfa.recovery_code.used` and a mail to
     * the person in `language`. `malformed` is not counted as a try.
     */
    use(userId: string, code: string, context: { ip?: string; language: string }): Promise<'ok' | 'wrong' | 'malformed'>;
  };

  passkeys: {
    /** Options for navigator.credentials.create() (JSON), with a challenge bound to `binding`. */
    registrationOptions(user: { id: string; email: string; name: string | null }, binding: CeremonyBinding): Promise<unknown>;
    /** Verifies the browser's answer (a JSON string) and stores the passkey. Audit `mfa.passkey.registered`. */
    register(userId: string, response: string, name: string, binding: CeremonyBinding, actor: Actor): Promise<Enrolled>;
    /**
     * Options for navigator.credentials.get(): for `userId`'s passkeys (a second factor), or for
     * any discoverable one (passwordless, user verification required).
     */
    authenticationOptions(binding: CeremonyBinding, userId?: string): Promise<unknown>;
    /** Verifies an assertion; with `userId`, only that person's passkeys count. */
    authenticate(response: string, binding: CeremonyBinding, userId?: string): Promise<PasskeyCheck>;
    list(userId: string): Promise<PasskeySummary[]>;
    /** Audit `mfa.passkey.removed`; false when it is not this person's. */
    remove(userId: string, passkeyId: string, actor: Actor): Promise<boolean>;
  };

  /** An administrator's reset: removes the chosen factors (all by default). Audit `mfa.reset`. */
  reset(userId: string, which: 'all' | 'totp' | 'passkeys' | 'recovery_codes', actor: Actor): Promise<FactorSummary>;
  /** Deletes everything of a person's (their account is being deleted), with no event of its own. */
  deleteAllFor(userId: string): Promise<void>;
  /** Deletes expired WebAuthn challenges (the purge timer). */
  purgeExpired(): Promise<number>;
}
