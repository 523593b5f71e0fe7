// Recovery codes: ten one-time codes a person keeps on paper for the day their app or passkey is
// gone. Each is ten characters from an alphabet without look-alikes (no 0/o, 1/l/i), shown as
// xxxxx-xxxxx: about 49 bits, far beyond what the login limits let anyone guess. Only a keyed
// hash is stored, bound to its person, so a database dump gives no code and a code of one person
// is unknown for any other. Using one is one conditional update (`usedAt` still null): of two
// requests with the same code, one wins; the person is told by mail, written in the same
// transaction.
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { keyedHash } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';

/** How many codes a person gets at a time. */
export const RECOVERY_CODE_COUNT = 10;
/** Letters and digits nobody misreads: no 0, 1, i, l or o. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const CODE_LENGTH = 10;
const SHAPE = new RegExp(`^[${ALPHABET}]{${CODE_LENGTH}}$`);

type Writer = Pick<Prisma, 'recoveryCode'>;

export interface RecoveryCodeOptions {
  prisma: Prisma;
  pepper: string;
  issuer: string;
  audit: AuditLog;
  outbox: Outbox;
  views: Views;
}

/** A code as typed: spaces and dashes dropped, lower case. */
export function normaliseRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i += 1) code += ALPHABET[crypto.randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

export function createRecoveryCodes({ prisma, pepper, issuer, audit, outbox, views }: RecoveryCodeOptions) {
  const codeHash = (userId: string, normalised: string) => keyedHash(pepper, `recovery-code:${userId}:${normalised}`);

  /** Replaces the person's codes with ten new ones (with `writer`, the caller's transaction). */
  async function replace(writer: Writer, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
    await writer.recoveryCode.deleteMany({ where: { userId } });
    await writer.recoveryCode.createMany({
      data: codes.map((code) => ({ id: crypto.randomUUID(), userId, codeHash: codeHash(userId, normaliseRecoveryCode(code)) })),
    });
    return codes;
  }

  async function recordGenerated(userId: string, actor: Actor): Promise<void> {
    await audit.record({
      type: 'mfa.recovery_codes.generated',
      ...actorFields(actor),
      subject: userId,
      outcome: 'success',
      details: { count: RECOVERY_CODE_COUNT },
    });
  }

  return {
    replace,
    recordGenerated,

    /** Unused codes left. */
    left(userId: string, writer: Writer = prisma): Promise<number> {
      return writer.recoveryCode.count({ where: { userId, usedAt: null } });
    },

    /**
     * Ten codes when the person has no unused one (a first factor was just added), with `writer`;
     * undefined when they still hold some. The caller records the event after its commit.
     */
    async issueIfNone(writer: Writer, userId: string): Promise<string[] | undefined> {
      if ((await writer.recoveryCode.count({ where: { userId, usedAt: null } })) > 0) return undefined;
      return replace(writer, userId);
    },

    async regenerate(userId: string, actor: Actor): Promise<string[]> {
      const codes = await prisma.$transaction((tx) => replace(tx as Prisma, userId));
      await recordGenerated(userId, actor);
      return codes;
    },

    async use(userId: string, code: string, context: { ip?: string; language: string }): Promise<'ok' | 'wrong' | 'malformed'> {
      const typed = typeof code === 'string' ? normaliseRecoveryCode(code.slice(0, 100)) : '';
      if (!SHAPE.test(typed)) return 'malformed';
      // The hash is the lookup: a unique index, so no stored value is compared in JavaScript.
      const row = await prisma.recoveryCode.findUnique({ where: { codeHash: codeHash(userId, typed) } });
      if (!row || row.userId !== userId || row.usedAt) return 'wrong';
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { email: true, name: true } });
      if (!user) return 'wrong';
      let left = 0;
      const used = await prisma.$transaction(async (tx) => {
        const { count } = await tx.recoveryCode.updateMany({ where: { id: row.id, usedAt: null }, data: { usedAt: new Date() } });
        if (count !== 1) return false;
        left = await tx.recoveryCode.count({ where: { userId, usedAt: null } });
        const mail = composeMail(views, {
          template: 'recovery-code-used',
          to: user.email,
          lang: context.language,
          data: { name: user.name, left, url: new URL('/account', issuer).href, product: views.brand.name },
        });
        await outbox.enqueue(tx, mail);
        return true;
      });
      if (!used) return 'wrong';
      outbox.kick();
      await audit.record({
        type: 'mfa.recovery_code.used',
        actorType: 'user',
        actorId: userId,
        ...(context.ip ? { ip: context.ip } : {}),
        subject: userId,
        outcome: 'success',
        details: { left },
      });
      return 'ok';
    },
  };
}

export type RecoveryCodes = ReturnType<typeof createRecoveryCodes>;
