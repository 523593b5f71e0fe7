// The factor service: the authenticator app (totp.ts), recovery codes (recoveryCodes.ts) and
// passkeys (passkeys.ts) behind the one FactorService of types.ts, plus what spans them: what a
// person has, an administrator's reset, the deletion of everything of a person's, and the purge
// of expired WebAuthn challenges. Events are recorded after their change commits, and never
// carry a secret, a code or a key.
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import type { Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';
import { createPasskeys, passkeySummary } from './passkeys.ts';
import { createRecoveryCodes } from './recoveryCodes.ts';
import { createTotp } from './totp.ts';
import type { FactorService, FactorSummary } from './types.ts';

export interface FactorServiceOptions {
  prisma: Prisma;
  /** HASH_PEPPER: keyed hashes of recovery codes and challenges. */
  pepper: string;
  /** KEY_ENCRYPTION_KEY, base64url: seals the apps' secrets. */
  sealingKey: string;
  /** The issuer: the WebAuthn relying party (its hostname the rp id, its origin the origin). */
  issuer: string;
  audit: AuditLog;
  outbox: Outbox;
  /** The mails' templates, and the brand's name the apps and authenticators show. */
  views: Views;
}

type Reader = Pick<Prisma, 'totpFactor' | 'passkey' | 'recoveryCode'>;
type Writer = Reader & Pick<Prisma, 'webAuthnChallenge'>;

/** Which factors a person has (a summary, never a secret): the service's and the data export's. */
export async function factorSummaryOf(reader: Reader, userId: string): Promise<FactorSummary> {
  const [totp, passkeys, recoveryCodesLeft] = await Promise.all([
    reader.totpFactor.findUnique({ where: { userId } }),
    reader.passkey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),
    reader.recoveryCode.count({ where: { userId, usedAt: null } }),
  ]);
  return {
    totp: totp?.confirmedAt ? { createdAt: totp.confirmedAt, lastUsedAt: totp.lastUsedAt } : null,
    passkeys: passkeys.map(passkeySummary),
    recoveryCodesLeft,
  };
}

/** Deletes every factor and challenge of a person's with `writer` (an account deletion's transaction). */
export async function deleteFactorsOf(writer: Writer, userId: string): Promise<void> {
  await writer.totpFactor.deleteMany({ where: { userId } });
  await writer.recoveryCode.deleteMany({ where: { userId } });
  await writer.passkey.deleteMany({ where: { userId } });
  await writer.webAuthnChallenge.deleteMany({ where: { userId } });
}

export function createFactorService({ prisma, pepper, sealingKey, issuer, audit, outbox, views }: FactorServiceOptions): FactorService {
  const recoveryCodes = createRecoveryCodes({ prisma, pepper, issuer, audit, outbox, views });
  const totp = createTotp({ prisma, pepper, sealingKey, issuerName: views.brand.name, audit, recoveryCodes });
  const passkeys = createPasskeys({ prisma, pepper, issuer, rpName: views.brand.name, audit, recoveryCodes });

  return {
    summary: (userId) => factorSummaryOf(prisma, userId),

    async hasSecondFactor(userId) {
      const [apps, keys] = await Promise.all([
        prisma.totpFactor.count({ where: { userId, confirmedAt: { not: null } } }),
        prisma.passkey.count({ where: { userId } }),
      ]);
      return apps + keys > 0;
    },

    totp,
    recoveryCodes: { regenerate: recoveryCodes.regenerate, use: recoveryCodes.use },
    passkeys,

    async reset(userId: string, which: 'all' | 'totp' | 'passkeys' | 'recovery_codes', actor: Actor) {
      const removed = await prisma.$transaction(async (tx) => {
        const counts = { totp: 0, passkeys: 0, recovery_codes: 0 };
        if (which === 'all' || which === 'totp') counts.totp = (await tx.totpFactor.deleteMany({ where: { userId } })).count;
        if (which === 'all' || which === 'passkeys') {
          counts.passkeys = (await tx.passkey.deleteMany({ where: { userId } })).count;
          await tx.webAuthnChallenge.deleteMany({ where: { userId } });
        }
        if (which === 'all' || which === 'recovery_codes')
          counts.recovery_codes = (await tx.recoveryCode.deleteMany({ where: { userId } })).count;
        return counts;
      });
      await audit.record({
        type: 'mfa.reset',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { which, removed },
      });
      return factorSummaryOf(prisma, userId);
    },

    async deleteAllFor(userId) {
      await prisma.$transaction((tx) => deleteFactorsOf(tx as Prisma, userId));
    },

    async purgeExpired() {
      const { count } = await prisma.webAuthnChallenge.deleteMany({ where: { expiresAt: { lt: new Date() } } });
      return count;
    },
  };
}
