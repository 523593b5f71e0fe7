// What people do by mail before they are signed in: sign up, verify their address (a link or a
// six-digit code), reset a forgotten password, accept an invitation; and what an administrator
// does to invite someone. The pages, the CLI and the admin API all call these functions, so each
// rule is written once.
//
// Three rules hold for every flow here:
// - No answer tells whether an address has an account (OWASP ASVS 2.5, 3.7): sign-up, resend
//   and forgotten password answer `{ ok: true }` whatever the address, and mail goes only where
//   it is meant (a sign-up for a taken address tells its owner instead).
// - A mail is written to the outbox in the same transaction as the token it carries, and a
//   retried request writes nothing more: while a link of the same purpose sent to the same
//   person less than a minute ago still works, no new one is made (so the first mail's link
//   stays the one that works); notices without a link carry a dedupe key of their minute. A
//   request for a new link after the old one expired or was used is never held back.
// - Mail is rate-limited per address and per source (shared through Redis when REDIS_URL is
//   set), counted before anything is looked up, so a limit tells nothing about an account either.
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { hashPassword } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, PortcullisError } from '../errors/index.ts';
import { sourceOf, type RateLimiter } from '../limits/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';
import { checkedEmail, MAX_EMAIL_LENGTH, normalizeEmail, passwordProblem, type PasswordProblem, type UserService } from '../users/index.ts';
import { TOKEN_LIFETIME_SECONDS, type AccountTokens, type TokenPurpose } from './tokens.ts';

/** A link sent less than this long ago, and still good, is not sent again: the request was a retry. */
export const RETRY_WINDOW_SECONDS = 60;
/** Mail anyone can cause, per address and per source (an IPv4 address, an IPv6 /64). */
export const MAIL_LIMITS = { perAddress: '5/3600s', perSource: '30/3600s' } as const;
/** The longest an invitation may be made to last. */
export const MAX_INVITATION_SECONDS = 30 * 86_400;
export const MAX_NAME_LENGTH = 200;

export type FormProblem = PasswordProblem | 'email_invalid' | 'name_too_long';

/** What a request that may send mail comes to. */
export type MailOutcome = { ok: true } | { ok: false; problem: FormProblem } | { ok: false; retryAfterSeconds: number };

/** What following a link comes to: unknown means never issued, tampered with, or for another purpose. */
export type LinkOutcome<T = object> = ({ ok: true } & T) | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export interface SelfServiceOptions {
  prisma: Prisma;
  users: UserService;
  tokens: AccountTokens;
  outbox: Outbox;
  views: Views;
  rateLimiter: RateLimiter;
  audit: AuditLog;
  issuer: string;
  signup: 'closed' | 'invite' | 'open';
  mailLimits?: { perAddress: string; perSource: string };
}

/** Who asks, as the pages know them: their address (for limits and audit) and language. */
export interface Visitor {
  ip: string;
  lang: string;
  userAgent?: string;
}

/** Thrown inside a transaction to undo it when its mail was already written by an earlier try. */
class AlreadySent extends Error {}

export function createSelfService({
  prisma,
  users,
  tokens,
  outbox,
  views,
  rateLimiter,
  audit,
  issuer,
  signup,
  mailLimits = MAIL_LIMITS,
}: SelfServiceOptions) {
  const base = issuer.replace(/\/$/, '');
  const link = (path: string, token: string) => `${base}${path}?token=${encodeURIComponent(token)}`;
  const minute = () => Math.floor(Date.now() / 60_000);

  /** Counts one mail for the source and the address; the seconds to wait when either is spent. */
  async function mailAllowed(email: string, ip: string): Promise<number | undefined> {
    const source = await rateLimiter.consume(`mail-source:${sourceOf(ip)}`, mailLimits.perSource);
    if (!source.allowed) return source.retryAfterSeconds;
    const address = await rateLimiter.consume(`mail-address:${email}`, mailLimits.perAddress);
    if (!address.allowed) return address.retryAfterSeconds;
    return undefined;
  }

  /**
   * Runs `write` (which issues a token and writes its mail) in one transaction, and sends after
   * commit. `write` returns false when the outbox already held this mail: everything is undone.
   */
  async function inTransaction(write: (tx: Prisma) => Promise<boolean>): Promise<boolean> {
    try {
      await prisma.$transaction(async (tx) => {
        if (!(await write(tx as Prisma))) throw new AlreadySent();
      });
    } catch (error) {
      if (error instanceof AlreadySent) return false;
      throw error;
    }
    outbox.kick();
    return true;
  }

  /**
   * Writes one mail in `tx`. A notice (`deduplicate`) is written once per address and minute;
   * false when this one already was.
   */
  function enqueue(
    tx: Prisma,
    template: string,
    to: string,
    lang: string,
    data: Record<string, unknown>,
    deduplicate = false,
  ): Promise<boolean> {
    const mail = composeMail(views, { template, to, lang, data: { ...data, product: views.brand.name } });
    return outbox.enqueue(tx, mail, deduplicate ? `${template}:${to}:${minute()}` : undefined);
  }

  /** Whether a good link of `purpose` went to this person within RETRY_WINDOW_SECONDS: then this request is its retry. */
  async function justSent(tx: Prisma, purpose: TokenPurpose, userId: string): Promise<boolean> {
    const now = Date.now();
    const recent = await tx.accountToken.findFirst({
      where: {
        purpose,
        userId,
        usedAt: null,
        expiresAt: { gt: new Date(now) },
        createdAt: { gt: new Date(now - RETRY_WINDOW_SECONDS * 1000) },
      },
      select: { id: true },
    });
    return recent !== null;
  }

  /** A new verification link and code for `user`, mailed in `tx`. */
  async function writeVerification(tx: Prisma, user: { id: string; email: string; name: string | null }, lang: string): Promise<boolean> {
    if (await justSent(tx, 'verify_email', user.id)) return false;
    const issued = await tokens.issue(tx, { purpose: 'verify_email', email: user.email, userId: user.id, withCode: true });
    return enqueue(tx, 'verify-email', user.email, lang, {
      name: user.name,
      url: link('/verify-email', issued.token),
      code: issued.code,
      hours: TOKEN_LIFETIME_SECONDS.verify_email / 3600,
    });
  }

  /** The address as stored, or undefined when it cannot be one (the form says so). */
  function addressOf(input: string): string | undefined {
    try {
      return checkedEmail(input.slice(0, MAX_EMAIL_LENGTH + 1));
    } catch {
      return undefined;
    }
  }

  async function linkOf(purpose: TokenPurpose, token: unknown) {
    const checked = await tokens.check(purpose, token);
    if (!checked.ok) return { ok: false as const, reason: checked.reason, row: checked.row };
    return checked;
  }

  return {
    signup,

    /**
     * Sign-up (SIGNUP=open): a new account waits for its address to be verified; for a taken
     * address its owner is told by mail instead, and the answer is the same.
     */
    async signUp(input: { email: string; password: string; name?: string }, visitor: Visitor): Promise<MailOutcome> {
      if (signup !== 'open') throw new PortcullisError('not_found', 404, 'sign-up is not open');
      const email = addressOf(input.email);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const problem = passwordProblem(input.password, email);
      if (problem) return { ok: false, problem };
      const name = input.name?.trim() || null;
      if (name && [...name].length > MAX_NAME_LENGTH) return { ok: false, problem: 'name_too_long' };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      // Hashed before the transaction, which then holds the database for milliseconds only; an
      // existing address costs the same hash, so timing does not tell either.
      const passwordHash = await hashPassword(input.password);
      const existing = await prisma.user.findUnique({ where: { email } });
      if (existing?.emailVerified || existing?.disabled) {
        await inTransaction((tx) =>
          enqueue(tx, 'account-exists', email, existing.locale ?? visitor.lang, { url: `${base}/forgot-password` }, true),
        );
        await audit.record({ type: 'user.signup_existing', actorType: 'user', ip: visitor.ip, subject: existing.id, outcome: 'failure' });
        return { ok: true };
      }
      if (existing) {
        // Never verified: this sign-up replaces the earlier one (see UserService.replaceUnverified).
        await users.replaceUnverified(existing.id, passwordHash, name);
        await inTransaction((tx) => writeVerification(tx, { ...existing, name }, visitor.lang));
        return { ok: true };
      }
      const id = crypto.randomUUID();
      try {
        await inTransaction(async (tx) => {
          await tx.user.create({ data: { id, email, name, passwordHash, emailVerified: false, locale: visitor.lang } });
          return writeVerification(tx, { id, email, name }, visitor.lang);
        });
      } catch (error) {
        // Two sign-ups for one new address at once: the other made the account; this one is
        // the same answer (the other's mail is on its way).
        if (await prisma.user.findUnique({ where: { email }, select: { id: true } })) return { ok: true };
        throw error;
      }
      await audit.record({ type: 'user.signed_up', actorType: 'user', actorId: id, ip: visitor.ip, subject: id, outcome: 'success' });
      return { ok: true };
    },

    /** A new verification mail, for an address whose account is not verified yet (else nothing, same answer). */
    async resendVerification(emailInput: string, visitor: Visitor): Promise<MailOutcome> {
      const email = addressOf(emailInput);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      const user = await prisma.user.findUnique({ where: { email } });
      if (user && !user.emailVerified && !user.disabled)
        await inTransaction((tx) => writeVerification(tx, user, user.locale ?? visitor.lang));
      return { ok: true };
    },

    /** Whether a verification link is good (for the page that offers to confirm it). */
    async checkVerification(token: unknown): Promise<LinkOutcome<{ email: string }>> {
      const checked = await linkOf('verify_email', token);
      return checked.ok ? { ok: true, email: checked.row.email } : checked;
    },

    /** Follows a verification link: the address is verified, once. */
    async verifyByLink(token: unknown, visitor: Pick<Visitor, 'ip'>): Promise<LinkOutcome<{ userId: string }>> {
      const checked = await linkOf('verify_email', token);
      if (!checked.ok) return checked;
      return verify(checked.row, visitor);
    },

    /** The six-digit code of the newest verification mail to `email`. */
    async verifyByCode(emailInput: string, code: string, visitor: Pick<Visitor, 'ip'>): Promise<LinkOutcome<{ userId: string }>> {
      const email = normalizeEmail(emailInput.slice(0, MAX_EMAIL_LENGTH));
      const checked = await tokens.checkCode('verify_email', email, code);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      return verify(checked.row, visitor);
    },

    /** Forgotten password: a 30-minute link to an address with an account; the same answer for any other. */
    async requestPasswordReset(emailInput: string, visitor: Visitor): Promise<MailOutcome> {
      const email = addressOf(emailInput);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      const user = await prisma.user.findUnique({ where: { email } });
      if (!user || user.disabled) return { ok: true };
      const written = await inTransaction(async (tx) => {
        if (await justSent(tx, 'reset_password', user.id)) return false;
        const issued = await tokens.issue(tx, { purpose: 'reset_password', email, userId: user.id });
        return enqueue(tx, 'reset-password', email, user.locale ?? visitor.lang, {
          name: user.name,
          url: link('/reset-password', issued.token),
          minutes: TOKEN_LIFETIME_SECONDS.reset_password / 60,
        });
      });
      if (written)
        await audit.record({
          type: 'user.password_reset_requested',
          actorType: 'user',
          ip: visitor.ip,
          subject: user.id,
          outcome: 'success',
        });
      return { ok: true };
    },

    async checkPasswordReset(token: unknown): Promise<LinkOutcome<{ email: string }>> {
      const checked = await linkOf('reset_password', token);
      return checked.ok ? { ok: true, email: checked.row.email } : checked;
    },

    /**
     * Sets the new password through a reset link: once, under the password rule; every session,
     * refresh token and grant of the person ends, and a notice goes to the address.
     */
    async resetPassword(
      token: unknown,
      password: string,
      visitor: Visitor,
    ): Promise<LinkOutcome | { ok: false; problem: PasswordProblem }> {
      const checked = await linkOf('reset_password', token);
      if (!checked.ok) return checked;
      const { row } = checked;
      const problem = passwordProblem(password, row.email);
      if (problem) return { ok: false, problem };
      const user = row.userId ? await prisma.user.findUnique({ where: { id: row.userId } }) : null;
      // The account was deleted or its address changed since the link was sent: it is no link for it any more.
      if (!user || user.email !== row.email || user.disabled) return { ok: false, reason: 'unknown' };
      if (!(await tokens.consume(prisma, row.id))) return { ok: false, reason: 'used' };
      await users.setPasswordByMail(user.id, password, { type: 'user', id: user.id, ip: visitor.ip });
      await tokens.revokeFor(prisma, user.id);
      await inTransaction((tx) =>
        enqueue(tx, 'password-changed', user.email, user.locale ?? visitor.lang, { name: user.name, url: `${base}/forgot-password` }, true),
      );
      return { ok: true };
    },

    /**
     * An invitation (SIGNUP=invite or open): a link, good for `expiresInSeconds` (7 days unless
     * told), where the person sets a password; the account it makes is verified by it.
     */
    async invite(
      input: { email: string; name?: string | undefined; expiresInSeconds?: number | undefined; lang?: string | undefined },
      actor: Actor,
    ): Promise<{ id: string; email: string; name: string | null; expires_at: string }> {
      if (signup === 'closed') {
        throw new PortcullisError('conflict', 409, 'invitations are off (SIGNUP=closed): set SIGNUP=invite or SIGNUP=open');
      }
      const email = checkedEmail(input.email);
      const name = input.name?.trim() || null;
      if (name && [...name].length > MAX_NAME_LENGTH) throw new InputError('name', `must be at most ${MAX_NAME_LENGTH} characters`);
      const seconds = input.expiresInSeconds ?? TOKEN_LIFETIME_SECONDS.invitation;
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > MAX_INVITATION_SECONDS) {
        throw new InputError('expires_in', `must be between 1 minute and ${MAX_INVITATION_SECONDS / 86_400} days`);
      }
      if (await prisma.user.findUnique({ where: { email }, select: { id: true } }))
        throw new ConflictError('a user with this email already exists');
      if (input.lang !== undefined && input.lang !== 'en' && input.lang !== 'de') throw new InputError('lang', 'must be en or de');
      const lang = input.lang ?? 'en';
      let issued: { id: string; expiresAt: Date } | undefined;
      const createdBy = actor.type === 'system' ? 'system' : `${actor.type}:${actor.id ?? 'cli'}`;
      await prisma.$transaction(async (tx) => {
        const made = await tokens.issue(tx as Prisma, { purpose: 'invitation', email, name, ttlSeconds: seconds, createdBy });
        issued = made;
        // No dedupe key: an administrator inviting twice means a new link (the earlier one stops).
        await outbox.enqueue(
          tx as Prisma,
          composeMail(views, {
            template: 'invitation',
            to: email,
            lang,
            data: { name, url: link('/invitation', made.token), expiresAt: made.expiresAt, product: views.brand.name },
          }),
        );
      });
      outbox.kick();
      await audit.record({
        type: 'user.invited',
        ...actorFields(actor),
        subject: issued!.id,
        outcome: 'success',
        details: { expires_at: issued!.expiresAt.toISOString() },
      });
      return { id: issued!.id, email, name, expires_at: issued!.expiresAt.toISOString() };
    },

    async checkInvitation(token: unknown): Promise<LinkOutcome<{ email: string; name: string | null }>> {
      const checked = await linkOf('invitation', token);
      return checked.ok ? { ok: true, email: checked.row.email, name: checked.row.name } : checked;
    },

    /** Accepts an invitation: the account is made with this password, verified, once. */
    async acceptInvitation(
      token: unknown,
      input: { password: string; name?: string },
      visitor: Visitor,
    ): Promise<LinkOutcome<{ userId: string }> | { ok: false; problem: FormProblem }> {
      const checked = await linkOf('invitation', token);
      if (!checked.ok) return checked;
      const { row } = checked;
      const problem = passwordProblem(input.password, row.email);
      if (problem) return { ok: false, problem };
      const name = input.name?.trim() || row.name || null;
      if (name && [...name].length > MAX_NAME_LENGTH) return { ok: false, problem: 'name_too_long' };
      const passwordHash = await hashPassword(input.password);
      const id = crypto.randomUUID();
      const made = await prisma
        .$transaction(async (tx) => {
          if (!(await tokens.consume(tx as Prisma, row.id))) return false;
          await tx.user.create({
            data: { id, email: row.email, name, passwordHash, emailVerified: true, emailVerifiedAt: new Date(), locale: visitor.lang },
          });
          return true;
        })
        // The address got an account since the invitation was sent (the unique email refused it).
        .catch(async (error: unknown) => {
          if (await prisma.user.findUnique({ where: { email: row.email }, select: { id: true } })) return false;
          throw error;
        });
      if (!made) return { ok: false, reason: 'used' };
      await audit.record({
        type: 'user.invitation_accepted',
        actorType: 'user',
        actorId: id,
        ip: visitor.ip,
        subject: id,
        outcome: 'success',
        details: { invitation: row.id },
      });
      return { ok: true, userId: id };
    },

    /**
     * An expired invitation sent again to the same address (only there, so it gives nobody
     * else anything), good for as long as the first was meant to be; limited like any mail.
     */
    async renewInvitation(token: unknown, visitor: Visitor): Promise<MailOutcome> {
      const checked = await linkOf('invitation', token);
      if (checked.ok || checked.reason !== 'expired' || !checked.row) return { ok: true };
      const { row } = checked;
      const wait = await mailAllowed(row.email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      if (await prisma.user.findUnique({ where: { email: row.email }, select: { id: true } })) return { ok: true };
      const seconds = Math.min(
        Math.max(60, Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / 1000)),
        MAX_INVITATION_SECONDS,
      );
      await inTransaction(async (tx) => {
        const made = await tokens.issue(tx, {
          purpose: 'invitation',
          email: row.email,
          name: row.name,
          ttlSeconds: seconds,
          createdBy: row.createdBy,
        });
        return enqueue(tx, 'invitation', row.email, visitor.lang, {
          name: row.name,
          url: link('/invitation', made.token),
          expiresAt: made.expiresAt,
        });
      });
      return { ok: true };
    },
  };

  async function verify(
    row: { id: string; userId: string | null; email: string },
    visitor: Pick<Visitor, 'ip'>,
  ): Promise<LinkOutcome<{ userId: string }>> {
    const user = row.userId ? await prisma.user.findUnique({ where: { id: row.userId } }) : null;
    // The address changed since the mail was sent: the link verifies nothing any more.
    if (!user || user.email !== row.email) return { ok: false, reason: 'unknown' };
    if (!(await tokens.consume(prisma, row.id))) return { ok: false, reason: 'used' };
    await users.markVerified(user.id);
    await audit.record({
      type: 'user.email_verified',
      actorType: 'user',
      actorId: user.id,
      ip: visitor.ip,
      subject: user.id,
      outcome: 'success',
    });
    return { ok: true, userId: user.id };
  }
}

export type SelfService = ReturnType<typeof createSelfService>;
