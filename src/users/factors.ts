// A person's second factors as administrators see them (the admin API and the CLI): which ones
// they have and when they were used, in the wire's snake_case names. Built only from the factors
// room's summary, which holds no secret, so nothing here can show one.
import type { FactorSummary } from '../factors/index.ts';

export interface FactorSummaryView {
  /** The authenticator app, once confirmed. */
  totp: { created_at: string; last_used_at: string | null } | null;
  passkeys: { id: string; name: string; synced: boolean; created_at: string; last_used_at: string | null }[];
  recovery_codes_left: number;
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function factorSummaryView(summary: FactorSummary): FactorSummaryView {
  return {
    totp: summary.totp ? { created_at: summary.totp.createdAt.toISOString(), last_used_at: iso(summary.totp.lastUsedAt) } : null,
    passkeys: summary.passkeys.map((passkey) => ({
      id: passkey.id,
      name: passkey.name,
      synced: passkey.synced,
      created_at: passkey.createdAt.toISOString(),
      last_used_at: iso(passkey.lastUsedAt),
    })),
    recovery_codes_left: summary.recoveryCodesLeft,
  };
}
