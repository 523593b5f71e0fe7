// One-time links and codes sent by mail (AccountToken): verifying an address, resetting a
// password, accepting an invitation, confirming a new address. The link carries a random token
// of 256 bits; only its keyed hash is stored, bound to its purpose, so a link for one purpose is
// unknown to every other. Email verification also gets a six-digit code for typing on another
// device, with a bounded number of wrong tries. Using one is one conditional update: of two
// requests with the same link (a double click, two instances), one wins.
import crypto from 'node:crypto';
import { constantTimeEqual, keyedHash, randomSecret } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';

export type TokenPurpose = 'verify_email' | 'reset_password' | 'invitation' | 'change_email';

/** How long each kind of link works. */
export const TOKEN_LIFETIME_SECONDS: Record<TokenPurpose, number> = {
  verify_email: 24 * 3600,
  reset_password: 30 * 60,
  invitation: 7 * 86_400,
  change_email: 24 * 3600,
};

/** A link of the same purpose and person made less than this long ago, and still good, marks a request as its retry. */
export const RETRY_WINDOW_SECONDS = 60;

/** Wrong codes allowed against one verification mail before its code stops working. */
export const MAX_CODE_FAILURES = 5;

type Writer = Pick<Prisma, 'accountToken'>;

export type AccountTokenRow = Awaited<ReturnType<Prisma['accountToken']['findUnique']>> & object;

export type TokenCheck =
  | { ok: true; row: AccountTokenRow }
  /** unknown: never issued, tampered with, or for another purpose; used: already followed; expired: past its time. */
  | { ok: false; reason: 'unknown' | 'used' | 'expired'; row?: AccountTokenRow };

export interface IssueInput {
  purpose: TokenPurpose;
  email: string;
  userId?: string | null;
  name?: string | null;
  /** Default: TOKEN_LIFETIME_SECONDS of the purpose. */
  ttlSeconds?: number;
  /** Also make a six-digit code (email verification). */
  withCode?: boolean;
  createdBy?: string | null;
}

export function createAccountTokens({ prisma, pepper }: { prisma: Prisma; pepper: string }) {
  const tokenHash = (purpose: TokenPurpose, token: string) => keyedHash(pepper, `account-token:${purpose}:${token}`);
  const codeHash = (id: string, code: string) => keyedHash(pepper, `account-code:${id}:${code}`);

  return {
    /**
     * Makes a token (with `writer`, the action's own transaction). Earlier live tokens of the same
     * purpose and person (or address, with no person) stop working: only the newest link works.
     */
    async issue(writer: Writer, input: IssueInput): Promise<{ id: string; token: string; code?: string; expiresAt: Date }> {
      const id = crypto.randomUUID();
      const token = randomSecret(32);
      const code = input.withCode ? String(crypto.randomInt(0, 1_000_000)).padStart(6, '0') : undefined;
      const expiresAt = new Date(Date.now() + (input.ttlSeconds ?? TOKEN_LIFETIME_SECONDS[input.purpose]) * 1000);
      await writer.accountToken.updateMany({
        where: {
          purpose: input.purpose,
          usedAt: null,
          ...(input.userId ? { userId: input.userId } : { email: input.email, userId: null }),
        },
        data: { expiresAt: new Date() },
      });
      await writer.accountToken.create({
        data: {
          id,
          purpose: input.purpose,
          tokenHash: tokenHash(input.purpose, token),
          codeHash: code ? codeHash(id, code) : null,
          userId: input.userId ?? null,
          email: input.email,
          name: input.name ?? null,
          expiresAt,
          createdBy: input.createdBy ?? null,
        },
      });
      return { id, token, ...(code ? { code } : {}), expiresAt };
    },

    /** What a presented link is: live, used, expired or unknown. Counts nothing. */
    async check(purpose: TokenPurpose, token: unknown): Promise<TokenCheck> {
      if (typeof token !== 'string' || token.length < 20 || token.length > 100) return { ok: false, reason: 'unknown' };
      const row = await prisma.accountToken.findUnique({ where: { tokenHash: tokenHash(purpose, token) } });
      if (!row || row.purpose !== purpose) return { ok: false, reason: 'unknown' };
      if (row.usedAt) return { ok: false, reason: 'used', row };
      if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired', row };
      return { ok: true, row };
    },

    /**
     * The live verification token of `email` whose code this is. Every try counts against the
     * newest live token of the address before the code is compared (a right code's token is
     * used at once, so its count no longer matters); past MAX_CODE_FAILURES its code no longer
     * works. The count is one write whether or not the address has a token (it then matches no
     * row), so the time a try takes does not tell whether a sign-up is waiting.
     */
    async checkCode(purpose: TokenPurpose, email: string, code: unknown): Promise<TokenCheck> {
      const row = await prisma.accountToken.findFirst({
        where: { purpose, email, usedAt: null, expiresAt: { gt: new Date() }, codeHash: { not: null } },
        orderBy: { createdAt: 'desc' },
      });
      const { count } = await prisma.accountToken.updateMany({
        where: { id: row?.id ?? crypto.randomUUID(), codeFailures: { lt: MAX_CODE_FAILURES } },
        data: { codeFailures: { increment: 1 } },
      });
      if (!row) return { ok: false, reason: 'unknown' };
      if (count !== 1) return { ok: false, reason: 'expired', row };
      const typed = typeof code === 'string' ? code.replace(/\s/g, '') : '';
      if (/^\d{6}$/.test(typed) && constantTimeEqual(codeHash(row.id, typed), row.codeHash!)) return { ok: true, row };
      return { ok: false, reason: 'unknown' };
    },

    /**
     * Whether a good link of `purpose` went to this person (and, when given, this address) less
     * than RETRY_WINDOW_SECONDS ago: then the request asking for another is a retry of the first
     * (a double click, a proxy), and sends nothing, so the first mail's link stays the one that works.
     */
    async justIssued(writer: Writer, purpose: TokenPurpose, userId: string, email?: string): Promise<boolean> {
      const now = Date.now();
      const recent = await writer.accountToken.findFirst({
        where: {
          purpose,
          userId,
          ...(email ? { email } : {}),
          usedAt: null,
          expiresAt: { gt: new Date(now) },
          createdAt: { gt: new Date(now - RETRY_WINDOW_SECONDS * 1000) },
        },
        select: { id: true },
      });
      return recent !== null;
    },

    /** Uses the token (with `writer`, in the transaction that acts on it): false when another request used it first. */
    async consume(writer: Writer, id: string): Promise<boolean> {
      const { count } = await writer.accountToken.updateMany({
        where: { id, usedAt: null, expiresAt: { gt: new Date() } },
        data: { usedAt: new Date() },
      });
      return count === 1;
    },

    /** Ends every live token of a person (a password reset, an account deleted). */
    async revokeFor(writer: Writer, userId: string): Promise<void> {
      await writer.accountToken.updateMany({ where: { userId, usedAt: null }, data: { expiresAt: new Date() } });
    },

    /** Deletes tokens expired or used more than a day ago. */
    async purge(): Promise<number> {
      const before = new Date(Date.now() - 86_400_000);
      const { count } = await prisma.accountToken.deleteMany({
        where: { OR: [{ expiresAt: { lt: before } }, { usedAt: { lt: before } }] },
      });
      return count;
    },
  };
}

export type AccountTokens = ReturnType<typeof createAccountTokens>;
