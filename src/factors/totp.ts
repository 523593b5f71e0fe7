// The authenticator app (TOTP, RFC 6238: HMAC-SHA-1, six digits, 30-second steps). The secret is
// 20 random bytes (RFC 4226's recommended length), kept sealed under KEY_ENCRYPTION_KEY with the
// person's id as context, so a database dump cannot read it and a row moved to another person
// cannot be opened. A code is accepted for this step or one either side (clocks drift), and never
// for a step at or before the last one accepted: the acceptance is one conditional update
// (`lastStep < step`), so two requests, or two instances, with the same code cannot both pass.
import crypto from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { constantTimeEqual, seal, unseal } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError } from '../errors/index.ts';
import type { RecoveryCodes } from './recoveryCodes.ts';
import type { CodeCheck, Enrolled, TotpEnrolment } from './types.ts';

export const TOTP_PERIOD_SECONDS = 30;
const DIGITS = 6;
const ALGORITHM = 'SHA1';
/** Steps either side of now that are accepted: one, so a code typed as it changes still works. */
const WINDOW = 1;
const CODE = /^\d{6}$/;

export interface TotpOptions {
  prisma: Prisma;
  pepper: string;
  /** KEY_ENCRYPTION_KEY, base64url (as the outbox's). */
  sealingKey: string;
  /** The name the app shows above the code (the brand). */
  issuerName: string;
  audit: AuditLog;
  recoveryCodes: RecoveryCodes;
}

/** The 30-second step `at` falls in. */
export function totpStep(at = Date.now()): number {
  return Math.floor(at / 1000 / TOTP_PERIOD_SECONDS);
}

/** A code as typed: spaces dropped (apps show "123 456"). */
const typedCode = (code: unknown) => (typeof code === 'string' ? code.slice(0, 100).replace(/\s/g, '') : '');

export function createTotp({ prisma, pepper, sealingKey, issuerName, audit, recoveryCodes }: TotpOptions) {
  const context = (userId: string) => `totp-secret:${userId}`;

  async function enrolment(secret: string, label: string): Promise<TotpEnrolment> {
    const uri = new TOTP({
      issuer: issuerName,
      label,
      secret: Secret.fromBase32(secret),
      algorithm: ALGORITHM,
      digits: DIGITS,
      period: TOTP_PERIOD_SECONDS,
    }).toString();
    const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
    // The page's CSP allows no inline style and no script; qrcode writes neither, and this keeps it so.
    if (!qrSvg.startsWith('<svg') || /<script|\sstyle=|\son[a-z]+=/i.test(qrSvg)) throw new Error('unexpected QR code markup');
    return { secret, uri, qrSvg };
  }

  /**
   * The step `code` is right for, among now and WINDOW steps either side, or undefined. All the
   * candidates are compared, in constant time, whichever matches.
   */
  function matchingStep(secret: string, code: string, now = totpStep()): number | undefined {
    const key = Secret.fromBase32(secret);
    let found: number | undefined;
    for (let step = now - WINDOW; step <= now + WINDOW; step += 1) {
      const expected = HOTP.generate({ secret: key, algorithm: ALGORITHM, digits: DIGITS, counter: step });
      if (constantTimeEqual(expected, code) && found === undefined) found = step;
    }
    return found;
  }

  const open = (userId: string, sealed: string) => unseal(sealingKey, pepper, context(userId), sealed);

  return {
    async begin(userId: string, label: string): Promise<TotpEnrolment> {
      const secret = new Secret({ size: 20 }).base32;
      const sealed = seal(sealingKey, pepper, context(userId), secret);
      const refused = () => new ConflictError('an authenticator app is already set up; remove it first');
      // Only a pending one is replaced: a confirmation in between wins, and this start is refused.
      const replacePending = async () =>
        (
          await prisma.totpFactor.updateMany({
            where: { userId, confirmedAt: null },
            data: { secret: sealed, lastStep: 0, lastUsedAt: null, createdAt: new Date() },
          })
        ).count === 1;
      const existing = await prisma.totpFactor.findUnique({ where: { userId }, select: { confirmedAt: true } });
      if (existing?.confirmedAt) throw refused();
      if (existing) {
        if (!(await replacePending())) throw refused();
      } else {
        try {
          await prisma.totpFactor.create({ data: { id: crypto.randomUUID(), userId, secret: sealed } });
        } catch (error) {
          // Another start made the row at the same moment (one per person): the newer secret replaces it.
          if ((error as { code?: string } | null)?.code !== 'P2002') throw error;
          if (!(await replacePending())) throw refused();
        }
      }
      return enrolment(secret, label);
    },

    async pending(userId: string, label: string): Promise<TotpEnrolment | undefined> {
      const row = await prisma.totpFactor.findUnique({ where: { userId } });
      if (!row || row.confirmedAt) return undefined;
      const secret = open(userId, row.secret);
      return secret ? enrolment(secret, label) : undefined;
    },

    async confirm(userId: string, code: string, actor: Actor): Promise<Enrolled> {
      const typed = typedCode(code);
      if (!CODE.test(typed)) return { ok: false, problem: 'malformed' };
      const row = await prisma.totpFactor.findUnique({ where: { userId } });
      if (!row) return { ok: false, problem: 'none_pending' };
      if (row.confirmedAt) return { ok: false, problem: 'already_enrolled' };
      const secret = open(userId, row.secret);
      const step = secret === undefined ? undefined : matchingStep(secret, typed);
      if (step === undefined) return { ok: false, problem: 'wrong_code' };
      const result = await prisma.$transaction(async (tx) => {
        // The secret too: a restart between the read and now made another secret, which this code is not for.
        const { count } = await tx.totpFactor.updateMany({
          where: { id: row.id, secret: row.secret, confirmedAt: null },
          data: { confirmedAt: new Date(), lastStep: step },
        });
        if (count !== 1) return undefined;
        return { codes: await recoveryCodes.issueIfNone(tx as Prisma, userId) };
      });
      if (!result) return { ok: false, problem: 'none_pending' };
      await audit.record({ type: 'mfa.totp.enrolled', ...actorFields(actor), subject: userId, outcome: 'success' });
      if (result.codes) await recoveryCodes.recordGenerated(userId, actor);
      return { ok: true, method: 'otp', ...(result.codes ? { recoveryCodes: result.codes } : {}) };
    },

    async verify(userId: string, code: string): Promise<CodeCheck> {
      const typed = typedCode(code);
      if (!CODE.test(typed)) return 'malformed';
      const row = await prisma.totpFactor.findUnique({ where: { userId } });
      if (!row?.confirmedAt) return 'none';
      const secret = open(userId, row.secret);
      // A secret that no longer opens (KEY_ENCRYPTION_KEY changed) accepts nothing.
      if (secret === undefined) return 'wrong';
      const step = matchingStep(secret, typed);
      if (step === undefined) return 'wrong';
      if (step <= row.lastStep) return 'replayed';
      const { count } = await prisma.totpFactor.updateMany({
        where: { id: row.id, confirmedAt: { not: null }, lastStep: { lt: step } },
        data: { lastStep: step, lastUsedAt: new Date() },
      });
      return count === 1 ? 'ok' : 'replayed';
    },

    async remove(userId: string, actor: Actor): Promise<boolean> {
      const { count } = await prisma.totpFactor.deleteMany({ where: { userId, confirmedAt: { not: null } } });
      // A pending setup goes too, without an event: it never was a factor.
      await prisma.totpFactor.deleteMany({ where: { userId } });
      if (count === 0) return false;
      await audit.record({ type: 'mfa.totp.removed', ...actorFields(actor), subject: userId, outcome: 'success' });
      return true;
    },
  };
}

export type Totp = ReturnType<typeof createTotp>;
